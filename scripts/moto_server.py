"""moto's DynamoDB-compatible server, with item writes made atomic as DynamoDB makes them.

moto answers each request on its own thread and applies UpdateItem as read, change, write, so
two concurrent `ADD Likes :one` could both read the same count and one like was lost (the test
of a thousand concurrent likes saw 998). DynamoDB applies each item write atomically; so does
this server. Run with the venv's Python: `python scripts/moto_server.py -H 127.0.0.1 -p PORT`.
"""
import functools
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.server import main

WRITES = threading.Lock()


def atomic(write):
    @functools.wraps(write)
    def locked(*args, **kwargs):
        with WRITES:
            return write(*args, **kwargs)
    return locked


for name in ("put_item", "update_item", "delete_item"):
    setattr(DynamoDBBackend, name, atomic(getattr(DynamoDBBackend, name)))

if __name__ == "__main__":
    main()
