"""Settings for every Shaobao process, read from ``SHAOBAO_*`` environment variables.

Unsafe values are refused rather than warned about: the built-in secrets are public (they
are in this file), so only the test suite (``environment="test"``) may run on them; every
other process gets the secrets generated for its installation (``deploy/stack.sh env``,
docs/operations.md "Secrets"). The movable test clock is refused in production.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET = "dev-only-not-secret"
# A valid Fernet key used only by the test suite; every other environment refuses it.
DEV_PII_KEY = "ZGV2LW9ubHktcGlpLWtleS1ub3Qtc2VjcmV0LTAwMDA="
SECRET_NAMES = ("pii_key", "pseudonym_key", "key_pepper")
MIN_SECRET_CHARS = 32

Environment = Literal["development", "test", "production"]


class ConfigFiles(BaseSettings):
    """Where the operator's files are: all that the offline commands (``shaobao rules``)
    need, so they run without the installation's secrets."""

    model_config = SettingsConfigDict(env_prefix="SHAOBAO_", extra="ignore", frozen=True)

    rules_file: Path = ROOT / "config" / "rules.yaml"
    owners_file: Path = ROOT / "config" / "owners.yaml"
    places_file: Path = ROOT / "config" / "places.yaml"  # 地名库 (gazetteer)
    targets_file: Path = ROOT / "config" / "targets.yaml"  # 考核目标 (the plan's targets)
    calendar_dir: Path = ROOT / "config" / "calendar"
    # What the installation keeps on disk (attachments in a folder, triage models)
    state_dir: Path = Path("/var/lib/shaobao")
    # The folder `shaobao triage train` writes models to and intake reads the newest from
    triage_models_dir: Path | None = None

    @property
    def triage_models(self) -> Path:
        """Where the triage models are (default ``$SHAOBAO_STATE_DIR/models``)."""
        return self.triage_models_dir or self.state_dir / "models"


class Settings(ConfigFiles):
    """One settings object, built by each composition root and passed down."""

    model_config = SettingsConfigDict(env_prefix="SHAOBAO_", extra="ignore", frozen=True)

    environment: Environment = "development"

    # --- Web hardening (issue 17 #12, #13): per-address limits and slow-client timeouts ---
    # Routes without a key (notice board, feedback links, console sign-in): a token bucket
    # per client address (IPv6 by /64) in each process; past it, 429 with Retry-After.
    anon_rate_limit_per_second: float = Field(default=10.0, gt=0, le=100_000)
    anon_rate_limit_burst: int = Field(default=60, ge=1, le=1_000_000)
    # Failed key checks (unknown, wrong, revoked, expired) per client address: past the
    # burst, a key not already known good is refused with 429 without a database read.
    failed_key_per_second: float = Field(default=1.0, gt=0, le=100_000)
    failed_key_burst: int = Field(default=20, ge=1, le=1_000_000)
    # A wrong key is remembered as wrong this long (a repeat reads no database; 0: never).
    failed_key_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    # Client addresses each limiter tracks at most (memory bound; full buckets go first).
    rate_limit_addresses: int = Field(default=100_000, ge=100, le=10_000_000)
    # Slow clients (shared/web/server.py): the request line and headers must arrive within
    # the first, the body within the second after them; else 408 and the connection closes.
    http_header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    http_body_timeout_seconds: float = Field(default=60.0, gt=0, le=3600)
    # --- end of web hardening ---
    service_name: str = "shaobao"
    # One PostgreSQL, or a failover-managed group in libpq's multi-host form
    # (postgresql+asyncpg://u:p@h1:p1,h2:p2/db?target_session_attrs=read-write): every
    # connection is made to the writable node (shared/db/dsn.py).
    database_url: str = "postgresql+asyncpg://shaobao:shaobao@127.0.0.1:55432/shaobao"
    # One RabbitMQ node, or every node of a cluster, comma-separated (same user and vhost):
    # the connection tries them in turn and moves to the next when its node is lost
    # (shared/messaging/connection.py).
    amqp_url: str = "amqp://shaobao:shaobao@127.0.0.1:55672/"
    # Seconds between AMQP heartbeats; a node silent for about three of them (a paused or
    # cut-off node) is given up and the next one tried. RabbitMQ advises 5-20 s.
    amqp_heartbeat_seconds: int = Field(default=5, ge=1, le=600)
    # The longest wait for a publisher confirm (the outbox relay, a consumer sending an
    # event on alone); past it the publish counts as failed and is sent again later
    # (shared/messaging/confirm.py). Confirms take milliseconds on a healthy cluster.
    amqp_confirm_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    mq_management_url: str = "http://127.0.0.1:55673"
    exchange: str = "shaobao.events"
    dead_letter_exchange: str = "shaobao.dlx"

    test_clock: bool = False
    pii_key: SecretStr = SecretStr(DEV_PII_KEY)
    pseudonym_key: SecretStr = SecretStr(DEV_SECRET)
    key_pepper: SecretStr = SecretStr(DEV_SECRET)

    prefetch: int = Field(default=200, ge=1, le=2000)
    # Events applied per consumer transaction (1 = one at a time) and how many such
    # transactions a consumer runs at once. See shared/messaging/consumer.py.
    consumer_batch: int = Field(default=200, ge=1, le=1000)
    consumer_workers: int = Field(default=2, ge=1, le=16)
    # Submissions sharing one intake transaction (group commit; 1 = one per request).
    intake_batch: int = Field(default=200, ge=1, le=1000)
    delivery_limit: int = Field(default=5, ge=1, le=100)
    outbox_batch: int = Field(default=200, ge=1, le=5000)
    # Events of one routing key packed into one AMQP message (1 = one event a message).
    # See shared/messaging/wire.py.
    publish_batch: int = Field(default=100, ge=1, le=1000)
    outbox_poll_seconds: float = Field(default=0.05, gt=0, le=10)
    # An idle relay's wait doubles after each empty poll up to this (shared/polling.py).
    outbox_idle_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # The garbage collector, once a service has started (see shared/runtime.settle_heap):
    # what the start built is frozen out of every collection, and the youngest generation
    # is collected after this many new objects (Python's default is 700; 0 keeps it).
    gc_freeze: bool = True
    gc_gen0_threshold: int = Field(default=20_000, ge=0, le=1_000_000)
    db_pool_size: int = Field(default=10, ge=1, le=200)

    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    webhook_backoff_base_seconds: float = Field(default=1.0, gt=0, le=600)

    public_feedback_url: str = "http://127.0.0.1:8001/v1/feedback/"
    feedback_link_days: int = Field(default=30, ge=1, le=365)
    feedback_window_hours: float = Field(default=168, gt=0, le=24 * 90)

    rate_limit_per_second: float = Field(default=100.0, gt=0, le=100_000)
    rate_limit_burst: int = Field(default=300, ge=1, le=1_000_000)

    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # POST /v1/cases/batch: at most this many cases in one request, and its body limit.
    intake_batch_max_cases: int = Field(default=500, ge=1, le=5000)
    max_batch_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # --- Attachments (附件): photos, call recordings, documents (shared/attachments) ---
    # Where the bytes live: this folder (default $SHAOBAO_STATE_DIR/attachments), or an
    # S3-compatible bucket when attachments_s3_endpoint is set. Every service that serves
    # attachments (intake, router) must see the same folder or bucket.
    attachments_dir: Path | None = None
    attachment_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, le=1024**3)
    attachments_s3_endpoint: str = ""  # host[:port], e.g. "minio.internal:9000"; "" = folder
    attachments_s3_bucket: str = "shaobao-attachments"
    attachments_s3_prefix: str = "attachments/"
    attachments_s3_region: str = ""
    attachments_s3_secure: bool = True
    attachments_s3_access_key: SecretStr = SecretStr("")
    attachments_s3_secret_key: SecretStr = SecretStr("")
    # --- end of attachments ---
    # Triage (分诊): see ConfigFiles.triage_models; a newer model file is taken within
    # triage_reload_seconds, without a restart. No model: every free-text case waits for a
    # dispatcher.
    triage_reload_seconds: float = Field(default=5.0, gt=0)
    log_level: str = "INFO"
    log_json: bool = True

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        if self.environment == "production" and self.test_clock:
            raise ValueError(
                "SHAOBAO_TEST_CLOCK 不能在生产环境启用 (test clock refused in production)"
            )
        if self.environment != "test":
            for name in SECRET_NAMES:
                refusal = _secret_refusal(name, getattr(self, name).get_secret_value())
                if refusal:
                    raise ValueError(refusal)
        return self

    @field_validator("amqp_url")
    @classmethod
    def _one_vhost(cls, value: str) -> str:
        urls = _split_urls(value)
        if not urls or any(urlsplit(u).scheme not in ("amqp", "amqps") for u in urls):
            raise ValueError(
                "SHAOBAO_AMQP_URL 必须是 amqp:// 地址，多个节点用逗号分隔"
                " (one amqp:// URL per broker node, comma-separated)"
            )
        if len({_vhost(u) for u in urls}) > 1:
            raise ValueError(
                "SHAOBAO_AMQP_URL 的各节点必须使用同一个 vhost"
                " (every broker node URL must name the same vhost)"
            )
        return value

    @property
    def amqp_urls(self) -> tuple[str, ...]:
        """Every broker node's URL, in the order they are tried."""
        return _split_urls(self.amqp_url)

    @property
    def amqp_vhost(self) -> str:
        """The vhost every node URL names (``/`` when none)."""
        return _vhost(self.amqp_urls[0])

    @property
    def attachments_folder(self) -> Path:
        """The folder attachments are stored in when no bucket is configured."""
        return self.attachments_dir or self.state_dir / "attachments"

    def for_service(self, name: str) -> Settings:
        """A copy naming the service, so logs and metrics carry it."""
        return self.model_copy(update={"service_name": name})


def _split_urls(value: str) -> tuple[str, ...]:
    return tuple(u.strip() for u in value.split(",") if u.strip())


def _vhost(url: str) -> str:
    return unquote(urlsplit(url).path[1:]) or "/"


def _secret_refusal(name: str, value: str) -> str | None:
    """Why a secret may not be used outside the test suite: a built-in default (public),
    or too short to be a generated one. ``pii_key`` may list old keys after the first
    (rotation, see ``shared.security.pii.PiiVault``): the first is the one checked."""
    env = f"SHAOBAO_{name.upper()}"
    primary = value.split(",")[0].strip()
    if primary in (DEV_SECRET, DEV_PII_KEY):
        return (
            f"{env} 使用了公开的内置默认值，只有测试可以使用；请用本机生成的密钥："
            'eval "$(bash deploy/stack.sh env)" (default secret refused outside the test suite)'
        )
    if name != "pii_key" and len(primary) < MIN_SECRET_CHARS:
        return (
            f"{env} 太短：至少 {MIN_SECRET_CHARS} 个字符的随机值"
            f" (secret shorter than {MIN_SECRET_CHARS} characters)"
        )
    return None
