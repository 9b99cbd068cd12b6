"""Sends exactly CONNS x PER_CONN keep-alive `GET /` requests to ADDR (host:port), CONNS connections in
parallel, each waiting for its answer before sending the next. A fixed request count (unlike wrk's fixed
duration) is what an instruction count per request needs. Usage: fixed_load.py ADDR CONNS PER_CONN"""

import asyncio
import sys


async def one(host: str, port: int, n: int) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    req = f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: fixed_load\r\nAccept: */*\r\n\r\n".encode()
    for _ in range(n):
        writer.write(req)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        status = head.split(b" ", 2)[1]
        if status != b"200" or length == 0:
            raise SystemExit(f"unexpected answer: {head!r}")
        await reader.readexactly(length)
    writer.close()


async def main() -> None:
    host, port = sys.argv[1].rsplit(":", 1)
    conns, per_conn = int(sys.argv[2]), int(sys.argv[3])
    await asyncio.gather(*(one(host, int(port), per_conn) for _ in range(conns)))


asyncio.run(main())
