"""``python -m simulators.mattermost --port 8065``: a demo Mattermost for local runs."""

from __future__ import annotations

import argparse
import threading

from simulators.mattermost.server import MattermostSimulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run a Mattermost API simulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8065)
    parser.add_argument("--token", default="sim-bot-token")
    args = parser.parse_args(argv)

    sim = MattermostSimulator(args.host, args.port, bot_token=args.token)
    sim.add_team("eng", "Engineering")
    channels = {
        name: sim.add_channel("eng", name, display)
        for name, display in [("access-requests", "Access Requests"), ("town-square", "Town")]
    }
    users = {
        email: sim.add_user(email, email.split("@")[0])
        for email in ("alice@example.com", "bob@example.com")
    }
    sim.start()
    print(f"Mattermost simulator at {sim.url}")
    print(f"token: {sim.bot_token}  bot id: {sim.bot_id}")
    for name, channel_id in channels.items():
        print(f"channel eng/{name}: {channel_id}")
    for email, user_id in users.items():
        print(f"user {email}: {user_id}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
