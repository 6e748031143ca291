"""A Mattermost simulator (real HTTP server) for tests and local demos."""

from simulators.mattermost.server import MattermostSimulator

__all__ = ["MattermostSimulator"]
