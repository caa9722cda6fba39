"""The healthcheck entity."""

from __future__ import annotations

from typing import Any

from pleromad.model import Health


def render(health: Health) -> dict[str, Any]:
    return {
        "pool_size": health.pool_size,
        "active": health.active,
        "idle": health.idle,
        "memory_used": health.memory_used,
        "healthy": health.healthy,
    }
