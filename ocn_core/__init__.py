"""ocn_core: the embeddable Open Charging Network routing engine (no transport inside)."""

from ocn_core._ext import implementation_report

__all__ = ["implementation_report"]
