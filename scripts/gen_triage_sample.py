"""Write tests/data/triage_sample.csv: short synthetic 12345 complaints labelled with the
categories of config/rules.yaml, for the triage tests (``shaobao triage evaluate``).

Seeded and deterministic (a unit test checks the file is current): run
``uv run python scripts/gen_triage_sample.py`` after editing the vocabulary. The matters
follow the field scenarios of the seed documents (电梯停摆, 油烟扰民, 宠物伤人, 楼道充电, 群租,
保交付 ...); words shared between matters (电梯, 物业, 噪音, 楼上) are there on purpose, so
the file is not separable by one keyword. Some rows are a caller's repeat (the same text with
small edits) to exercise near-duplicate reporting; family.violence is kept to a few rows to
exercise a class smaller than the folds.
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "triage_sample.csv"
SEED = 20261207

PLACES = [
    "和平里小区",
    "幸福家园",
    "锦绣华庭",
    "东湖新村",
    "翠苑二区",
    "阳光100",
    "金地名郡",
    "老纺织厂宿舍",
    "滨江花园",
    "南苑北里",
]
OPENERS = ["", "", "您好，", "市民来电反映：", "来电人称，", "网格员上报：", "居民反映，", "投诉："]
DEMANDS = [
    "",
    "希望尽快处理。",
    "请相关部门管一管。",
    "要求给个说法。",
    "已经反映多次没人管。",
    "请尽快派人来看看。",
    "希望社区协调解决。",
    "诉求：尽快解决",
]
WHEN = ["", "最近", "这几天", "已经一个多月", "从上周开始", "每天晚上", "昨天"]

# category → phrases that say the matter (the seed documents' scenarios and plan categories)
MATTERS: dict[str, list[str]] = {
    "property.elevator": [
        "电梯突然停运",
        "电梯坏了困人",
        "电梯故障停在半层",
        "电梯天天停摆老人下不了楼",
        "物业说电梯配件要从外省调货",
        "电梯门关不上还在运行",
        "电梯维保单位一直不来修",
    ],
    "property.fee": [
        "物业费一年涨了三成",
        "物业乱收费不给明细",
        "没开发票就收物业费",
        "物业收停车管理费又收服务费",
        "物业费收了服务没跟上",
        "公摊水电费分摊不透明",
    ],
    "property.repair": [
        "楼道灯坏了物业不修",
        "单元门禁坏了",
        "楼顶防水层脱落",
        "小区健身器材损坏",
        "楼道墙皮大面积脱落",
        "下水管道堵塞反味",
        "公共区域的围栏倒了",
    ],
    "property.security": [
        "物业保安态度恶劣骂人",
        "保安不让外卖进小区还动手",
        "小区门岗没人值守陌生人随便进",
        "保安和业主发生冲突",
        "夜里没有保安巡逻",
    ],
    "property.water_leak": [
        "楼上漏水把我家天花板泡了",
        "卫生间渗水到楼下",
        "外墙渗水屋里发霉",
        "顶楼下雨就漏水",
        "房屋漏水物业推给开发商",
        "暖气管漏水泡了地板",
    ],
    "property.parking": [
        "小区车位被外来车占了",
        "消防通道停满了车",
        "地下车库车位只租不售",
        "小区停车乱收费",
        "车位被僵尸车占了好几年",
        "停车难天天找不到车位",
    ],
    "environment.cooking_fume": [
        "楼下烧烤店油烟熏得开不了窗",
        "底商饭店排烟管道对着窗户",
        "油烟味太大老人闻了难受",
        "餐馆油烟直排没装净化器",
        "烧烤店加装高空排烟味道更大",
        "火锅店油烟扰民",
    ],
    "animal.stray_dog": [
        "流浪狗在小区咬伤了孩子",
        "小区里流浪犬成群追人",
        "被流浪狗咬了要打疫苗",
        "野狗晚上叫个不停还咬人",
        "流浪狗咬伤老人捕犬队来了狗跑了",
    ],
    "fire.ebike_charging": [
        "有人把电动车推上楼充电",
        "楼道里飞线给电瓶车充电",
        "电动车在楼道充电担心着火",
        "邻居从窗户拉电线给电动车充电",
        "电梯里带电瓶车上楼",
    ],
    "housing.group_rental": [
        "二房东打隔断一套房住了十几个人",
        "隔壁群租人员进出复杂",
        "出租屋隔成五间还做饭",
        "群租房噪音大安全隐患多",
        "房东把客厅隔成床位出租",
    ],
    "housing.delivery_risk": [
        "买的期房工地停工半年了",
        "开发商资金链断了担心交不了房",
        "楼盘迟迟不交付要求政府保交付",
        "业主集体担心烂尾",
        "商品房停工业主要退房",
    ],
    "neighbour.dispute": [
        "邻居在公共楼道堆放杂物",
        "和邻居因为占用楼道吵起来了",
        "对门装监控对着我家门",
        "邻居养的狗天天叫",
        "楼上邻居半夜跺脚吵架",
        "邻居在门口种菜占地方",
    ],
    "neighbour.renovation_noise": [
        "楼上装修电钻声从早响到晚",
        "周末中午还在装修砸墙",
        "装修噪音吵得孩子没法学习",
        "邻居装修晚上十点还在施工",
        "楼下装修切割瓷砖噪音很大",
    ],
    "neighbour.high_altitude_throwing": [
        "楼上往下扔垃圾",
        "高空抛物砸坏了车",
        "有人从楼上扔花盆差点砸到人",
        "楼上往下泼水扔烟头",
        "高层住户往窗外扔酒瓶",
    ],
    "family.dispute": [
        "老人赡养问题家里吵翻了",
        "兄弟因为拆迁款闹矛盾",
        "夫妻吵架要离婚请社区调解",
        "子女不管老人",
        "婆媳矛盾闹到社区",
    ],
    "family.violence": ["丈夫经常打她身上有伤", "家里有人动手打孩子", "遭受家暴不敢回家"],
    "policy.implementation": [
        "低保申请迟迟没有批下来",
        "养老补贴没有按时发放",
        "残疾人补助政策没落实",
        "医保报销政策社区说不清楚",
        "困难救助资金申请不到",
    ],
    "policy.elevator_retrofit": [
        "老旧小区加装电梯一楼住户不同意",
        "加装电梯的补贴怎么申请",
        "加装电梯后谁来维护费用怎么分",
        "老楼想装电梯社区能不能协调",
        "加装电梯施工影响一楼采光",
    ],
    "sanitation.garbage": [
        "垃圾桶满了好几天没人清运",
        "小区垃圾堆成山发臭",
        "垃圾清运车不按时来",
        "建筑垃圾堆在路边没人拉走",
        "垃圾站臭味太大招苍蝇",
    ],
    "public.streetlight": [
        "路灯坏了晚上一片漆黑",
        "小区门口的路灯不亮",
        "路灯一闪一闪的",
        "马路上好几盏路灯都不亮了",
        "路灯杆歪了快倒了",
    ],
}
# rows per category: most 18-26, a few larger, family.violence below the folds
SIZES = {
    "property.repair": 34,
    "sanitation.garbage": 30,
    "neighbour.renovation_noise": 28,
    "family.violence": 3,
}


def blur(rng: random.Random, matter: str, others: list[str]) -> str:
    """Make the matter harder to read, as callers do: only part of the phrase (a fifth of
    rows), or another matter mentioned in passing first (a tenth)."""
    if rng.random() < 0.2 and len(matter) > 6:
        start = rng.randint(0, len(matter) - 5)
        matter = matter[start : start + rng.randint(4, 6)]
    if rng.random() < 0.1:
        matter = f"之前还反映过{rng.choice(others)}，这次是{matter}"
    return matter


def complaint(rng: random.Random, matter: str) -> str:
    place = rng.choice(PLACES) + (f"{rng.randint(1, 30)}号楼" if rng.random() < 0.6 else "")
    parts = [
        rng.choice(OPENERS),
        rng.choice(WHEN),
        place,
        "，" if rng.random() < 0.5 else "",
        matter,
        "，",
        rng.choice(DEMANDS),
    ]
    return "".join(parts).strip("，")


def repeat_of(rng: random.Random, text: str) -> str:
    """A caller's second report: the same words, other punctuation and an added phrase."""
    return text.replace("，", " ") + rng.choice(["又来电催办", "第二次反映", "再次投诉"])


def rows() -> list[tuple[str, str]]:
    rng = random.Random(SEED)
    out: list[tuple[str, str]] = []
    for category, matters in MATTERS.items():
        others = [m for c, ms in MATTERS.items() if c != category for m in ms]
        for _ in range(SIZES.get(category, rng.randint(18, 26))):
            matter = blur(rng, rng.choice(matters), others)
            out.append((complaint(rng, matter), category))
    for text, category in rng.sample(out, 12):
        out.append((repeat_of(rng, text), category))
    rng.shuffle(out)
    return out


def render() -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["诉求内容", "类别"])
    writer.writerows(rows())
    return buffer.getvalue()


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT} ({len(rows())} rows)")


if __name__ == "__main__":
    main()
