"""A Mattermost simulator (real HTTP server) for tests and local demos."""

from notifications.simulator.server import MattermostSimulator

__all__ = ["MattermostSimulator"]
