"""``storyline kafka up|down|status``: the local single-node broker.

Exit codes: 0 ok / running, 1 error, 3 ``status`` found the broker stopped (LSB style).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from storyline.cli import port_number

EXIT_STOPPED = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="kafka_action", required=True, metavar="ACTION")
    up = sub.add_parser("up", help="fetch jars if needed, format storage, start, wait until ready")
    down = sub.add_parser("down", help="stop the broker (SIGTERM, SIGKILL after the timeout)")
    status = sub.add_parser("status", help="report running (exit 0) or stopped (exit 3)")
    for command in (up, down, status):
        command.add_argument("--host", help="listener address (env STORYLINE_KAFKA_HOST, "
                             "default 127.0.0.1)")
        command.add_argument("--port", type=port_number, help="client port (env "
                             "STORYLINE_KAFKA_PORT, default 9092)")
        command.add_argument("--controller-port", type=port_number,
                             help="KRaft controller port (env STORYLINE_KAFKA_CONTROLLER_PORT, "
                             "default port + 1)")
        command.add_argument("--data-dir", type=Path,
                             help="broker data, pid and log (env STORYLINE_KAFKA_DATA_DIR, "
                             "default $STORYLINE_DATA_DIR/kafka/broker, var/kafka/broker "
                             "when that is unset)")
    up.add_argument("--libs-dir", type=Path,
                    help="where the jars are fetched (env STORYLINE_KAFKA_LIBS_DIR, "
                    "default var/kafka/libs)")
    up.add_argument("--heap", help="JVM max heap, e.g. 512m (env STORYLINE_KAFKA_HEAP, default 1g)")
    up.add_argument("--timeout", type=float, dest="start_timeout",
                    help="seconds to wait for readiness (default 120)")
    down.add_argument("--wipe", action="store_true", help="also delete the data dir")
    down.add_argument("--timeout", type=float, dest="stop_timeout",
                      help="seconds between SIGTERM and SIGKILL (default 30)")


def run(args: argparse.Namespace) -> int:
    from storyline.kafka.broker import BrokerConfig, BrokerError, LocalBroker
    from storyline.logconfig import configure_logging
    from storyline.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)

    overrides = {
        key: getattr(args, key, None)
        for key in ("host", "port", "controller_port", "data_dir", "libs_dir", "heap",
                    "start_timeout", "stop_timeout")
    }
    broker = LocalBroker(BrokerConfig.from_env(**overrides))
    try:
        if args.kafka_action == "up":
            result = broker.start()
            if result.already_running and result.ready_seconds == 0.0:
                print(f"already running: pid {result.pid} on {broker.bootstrap}")
            elif result.already_running:
                print(f"was starting; ready on {broker.bootstrap} after "
                      f"{result.ready_seconds:.1f} s (pid {result.pid})")
            else:
                print(
                    f"started pid {result.pid} on {broker.bootstrap} in "
                    f"{result.total_seconds:.1f} s (jar fetch {result.fetch_seconds:.1f} s, "
                    f"format {result.format_seconds:.1f} s, JVM to first produce "
                    f"{result.ready_seconds:.1f} s); log {broker.config.log_file}"
                )
            return 0
        if args.kafka_action == "down":
            took = broker.stop(wipe=args.wipe)
            state = "was not running" if took is None else f"stopped in {took:.1f} s"
            wiped = f"; wiped {broker.config.data_dir}" if args.wipe else ""
            print(f"{state}{wiped}")
            return 0
        status = broker.status()
        print(status.describe())
        return 0 if status.running and status.answering else (1 if status.running
                                                               else EXIT_STOPPED)
    except BrokerError as error:
        print(f"storyline kafka {args.kafka_action}: {error}", file=sys.stderr)
        return 1
