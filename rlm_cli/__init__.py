"""rlm-sub: Recursive Language Model sub-agents for coding agents and CI."""

__version__ = "0.1.0"
