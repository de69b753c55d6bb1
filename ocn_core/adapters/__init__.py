"""I/O adapters: the only part of ocn_core allowed to import network libraries."""
