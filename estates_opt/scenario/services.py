"""The ``[suitability]`` and ``[movable]`` tables: which buildings may host a service, and
what share of its hours today may leave its building."""

from __future__ import annotations

from pydantic import Field, field_validator

from estates_opt.scenario.base import SiteKind, Strict


class Suitability(Strict):
    """Which buildings may host which services (services.csv ``building_types``)."""

    relax: list[str] = Field(
        default_factory=list,
        description="service_ids whose building-type rule is off (any building type may host them)",
    )


def _check_shares(value: dict[str, float]) -> dict[str, float]:
    for key, share in value.items():
        if not 0 <= share <= 1:
            raise ValueError(f"movable share for '{key}' must be between 0 and 1")
    return value


class Movable(Strict):
    """What can move: the share of each service's hours today that may leave its building
    (services.csv ``movable_share`` as shipped); the rest stays there as fixed work."""

    share: dict[str, float] = Field(
        default_factory=dict,
        description="movable share (0-1) per service_id, replacing services.csv movable_share",
    )
    share_by_kind: dict[str, dict[SiteKind, float]] = Field(
        default_factory=dict,
        description="movable share per service_id and kind of building it runs in today "
        "(gp_practice, pcn_hub, community, acute); overrides share there",
    )

    @field_validator("share")
    @classmethod
    def _shares(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_shares(value)

    @field_validator("share_by_kind")
    @classmethod
    def _kind_shares(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for service, by_kind in value.items():
            _check_shares({f"{service}.{kind}": v for kind, v in by_kind.items()})
        return value

    def share_for(self, service_id: str, kind: str, shipped: float) -> float:
        """The scenario's movable share of ``service_id`` in a building of ``kind``."""
        for given, share in self.share_by_kind.get(service_id, {}).items():
            if given == kind:
                return float(share)
        return float(self.share.get(service_id, shipped))

    @property
    def changed(self) -> bool:
        """Whether the scenario sets any movable share."""
        return bool(self.share or self.share_by_kind)
