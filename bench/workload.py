"""The MSP workload: organizations, their config entries and secrets, and who reads what.

Deterministic for a given :class:`WorkloadSpec` (its ``seed`` included), so the parent
process that seeds the backends and each contender's subprocess build the same data.

Shape (issue 6), with the full-size counts:

- 200 organizations ``org-000`` .. ``org-199``;
- GLOBAL holds 20 entries: 10 plain (5 defaults every org overrides, 5 GLOBAL-only) and
  10 secret refs ``platform_secret_NN`` -> vault ``GLOBAL--platform-secret-NN``;
- each org holds 40 entries: 25 plain, 10 secret refs to its own vault secrets
  (``{org}--org-secret-NN``) and 5 secret refs whose names exist only in GLOBAL
  (``shared_secret_NN`` -> ``platform-secret-NN``: the org lookup is a 404);
- 20 workflow types, each reading 10 distinct keys: 6 plain, 3 of the org's secret refs,
  1 of GLOBAL's secret refs;
- executions pick an org with Zipf popularity (exponent ``zipf_s``) and a workflow
  uniformly; a separate draw gives the cold-start burst.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from functools import cached_property

from shared.core.values import ConfigEntry

GLOBAL = "GLOBAL"
ORG_PLAIN = 25
ORG_OWN_SECRETS = 10
ORG_SHARED_SECRETS = 5
GLOBAL_OVERRIDDEN = 5      # GLOBAL defaults for setting_00..04, overridden by every org
GLOBAL_ONLY_PLAIN = 5
GLOBAL_SECRETS = 10
PLAIN_PER_WORKFLOW = 6
ORG_SECRETS_PER_WORKFLOW = 3
GLOBAL_SECRETS_PER_WORKFLOW = 1


@dataclass(frozen=True)
class WorkloadSpec:
    """The knobs of the workload; ``quick()`` and ``full()`` are the two presets."""

    orgs: int = 200
    executions: int = 20_000
    concurrency: int = 32
    burst: int = 500
    workflows: int = 20
    zipf_s: float = 1.0
    seed: int = 6

    @classmethod
    def full(cls) -> WorkloadSpec:
        return cls()

    @classmethod
    def quick(cls) -> WorkloadSpec:
        return cls(orgs=40, executions=1_000, burst=100)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class KeyInfo:
    """How one config key resolves for any org: plain, or a secret and where it lives."""

    key: str
    kind: str                  # "plain" | "org_secret" | "global_secret"
    secret_name: str | None = None

    @property
    def is_secret(self) -> bool:
        return self.kind != "plain"


def org_id(index: int) -> str:
    return f"org-{index:03d}"


def _keys() -> tuple[list[KeyInfo], list[KeyInfo], list[KeyInfo]]:
    """(plain keys, org secret-ref keys, GLOBAL secret-ref keys) as every org sees them."""
    plain = [KeyInfo(f"setting_{i:02d}", "plain") for i in range(ORG_PLAIN)]
    plain += [KeyInfo(f"platform_setting_{i:02d}", "plain") for i in range(GLOBAL_ONLY_PLAIN)]
    org_secrets = [
        KeyInfo(f"org_secret_{i:02d}", "org_secret", f"org-secret-{i:02d}")
        for i in range(ORG_OWN_SECRETS)
    ]
    org_secrets += [
        KeyInfo(f"shared_secret_{i:02d}", "global_secret", f"platform-secret-{i:02d}")
        for i in range(ORG_SHARED_SECRETS)
    ]
    global_secrets = [
        KeyInfo(f"platform_secret_{i:02d}", "global_secret", f"platform-secret-{i:02d}")
        for i in range(GLOBAL_SECRETS)
    ]
    return plain, org_secrets, global_secrets


PLAIN_KEYS, ORG_SECRET_KEYS, GLOBAL_SECRET_KEYS = _keys()
KEY_INFO: dict[str, KeyInfo] = {
    k.key: k for k in PLAIN_KEYS + ORG_SECRET_KEYS + GLOBAL_SECRET_KEYS
}


def secret_value(full_name: str) -> str:
    return f"value-of-{full_name}"


@dataclass
class Workload:
    """Everything generated from one spec. ``plan`` and ``burst_plan`` hold
    ``(org index, workflow index)`` pairs."""

    spec: WorkloadSpec
    orgs: list[str] = field(init=False)
    org_weights: list[float] = field(init=False)
    workflows: list[tuple[str, ...]] = field(init=False)
    plan: list[tuple[int, int]] = field(init=False)
    burst_plan: list[tuple[int, int]] = field(init=False)

    def __post_init__(self) -> None:
        rng = random.Random(self.spec.seed)
        self.orgs = [org_id(i) for i in range(self.spec.orgs)]
        # Popularity ranks are shuffled so the busiest org is not simply org-000.
        ranks = list(range(1, self.spec.orgs + 1))
        rng.shuffle(ranks)
        self.org_weights = [1.0 / rank ** self.spec.zipf_s for rank in ranks]
        total = sum(self.org_weights)
        self.org_weights = [w / total for w in self.org_weights]
        self.workflows = [self._workflow(rng) for _ in range(self.spec.workflows)]
        self.plan = self._draw(rng, self.spec.executions)
        self.burst_plan = self._draw(rng, self.spec.burst)

    @staticmethod
    def _workflow(rng: random.Random) -> tuple[str, ...]:
        keys = rng.sample(PLAIN_KEYS, PLAIN_PER_WORKFLOW)
        keys += rng.sample(ORG_SECRET_KEYS, ORG_SECRETS_PER_WORKFLOW)
        keys += rng.sample(GLOBAL_SECRET_KEYS, GLOBAL_SECRETS_PER_WORKFLOW)
        rng.shuffle(keys)
        return tuple(k.key for k in keys)

    def _draw(self, rng: random.Random, count: int) -> list[tuple[int, int]]:
        orgs = rng.choices(range(self.spec.orgs), weights=self.org_weights, k=count)
        flows = [rng.randrange(self.spec.workflows) for _ in range(count)]
        return list(zip(orgs, flows, strict=True))

    # -- what the backends hold --------------------------------------------------------
    def entries(self) -> Iterator[ConfigEntry]:
        """Every config table row: GLOBAL's 20, then 40 per org."""
        for i in range(GLOBAL_OVERRIDDEN):
            yield ConfigEntry(GLOBAL, f"setting_{i:02d}", plain_value(GLOBAL, f"setting_{i:02d}"))
        for i in range(GLOBAL_ONLY_PLAIN):
            key = f"platform_setting_{i:02d}"
            yield ConfigEntry(GLOBAL, key, plain_value(GLOBAL, key))
        for info in GLOBAL_SECRET_KEYS:
            assert info.secret_name is not None
            yield ConfigEntry(GLOBAL, info.key, info.secret_name, "secret_ref")
        for org in self.orgs:
            for i in range(ORG_PLAIN):
                key = f"setting_{i:02d}"
                yield ConfigEntry(org, key, plain_value(org, key))
            for info in ORG_SECRET_KEYS:
                assert info.secret_name is not None
                yield ConfigEntry(org, info.key, info.secret_name, "secret_ref")

    def secrets(self) -> dict[str, str]:
        """Every vault secret, full name -> value: 10 per org plus GLOBAL's 10."""
        names = [f"{GLOBAL}--platform-secret-{i:02d}" for i in range(GLOBAL_SECRETS)]
        for org in self.orgs:
            names += [f"{org}--org-secret-{i:02d}" for i in range(ORG_OWN_SECRETS)]
        return {name: secret_value(name) for name in names}

    # -- what a read must return -------------------------------------------------------
    @cached_property
    def _expected(self) -> dict[tuple[str, str], str]:
        return {(org, info.key): self._resolve(org, info) for org in self.orgs
                for info in KEY_INFO.values()}

    def expected(self, org: str, key: str) -> str:
        """The value ``get(key)`` must return for ``org``."""
        return self._expected[(org, key)]

    @staticmethod
    def _resolve(org: str, info: KeyInfo) -> str:
        if info.kind == "plain":
            scope = GLOBAL if info.key.startswith("platform_") else org
            return plain_value(scope, info.key)
        scope = org if info.kind == "org_secret" else GLOBAL
        return secret_value(f"{scope}--{info.secret_name}")

    def execution(self, pair: tuple[int, int]) -> tuple[str, tuple[str, ...]]:
        org, flow = pair
        return self.orgs[org], self.workflows[flow]


def plain_value(scope: str, key: str) -> str:
    return f"{scope}:{key}"
