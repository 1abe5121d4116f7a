"""The notice board's rules (:class:`shared.domain.notices.NoticePolicy`), from the rules
file, reloaded while the notifier runs like the router's rules (``shared.config_watch``):
a bad edit is refused and the last good policy stays in force."""

from __future__ import annotations

from pathlib import Path

from shared.config_watch import ConfigWatch, fingerprint
from shared.domain.notices import NoticePolicy
from shared.domain.rules import RuleSet


def _load(path: Path) -> NoticePolicy:
    return RuleSet.load(path).notices


class NoticeRules:
    """Holds the policy in force; handlers and the board read ``policy`` each time."""

    def __init__(self, rules_file: Path) -> None:
        self.path = rules_file
        self._seen = fingerprint([rules_file])
        self.policy = _load(rules_file)  # a bad file at start stops the process

    def replace(self, policy: NoticePolicy) -> None:
        self.policy = policy

    def watch(self, interval: float = 2.0) -> ConfigWatch[NoticePolicy]:
        return ConfigWatch(
            "notifier",
            paths=[self.path],
            load=lambda: _load(self.path),
            apply=self.replace,
            describe=lambda p: {"never_publish": ",".join(p.never_publish)},
            interval=interval,
            seen=self._seen,
        )
