#!/usr/bin/env python3
"""Opens N idle TCP connections to HOST:PORT and holds them until stdin closes.

Prints "held N" once every connection is open, so a caller can measure the balancer's memory while
they sit idle. Used by run.sh; connections are opened in batches to stay under the listen backlog.
"""
import asyncio
import sys


async def main(host: str, port: int, count: int) -> None:
    writers = []
    for start in range(0, count, 200):
        batch = await asyncio.gather(*(asyncio.open_connection(host, port) for _ in range(start, min(start + 200, count))))
        writers.extend(writer for _, writer in batch)
    print(f"held {len(writers)}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for writer in writers:
        writer.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
