"""A fediverse server that is not pleromad, for the test suite.

Run as its own process (``python peer.py --address 127.0.0.4 --port N``):
fediverse-pasture's test actors, served by its ``BlueprintForActors``
(WebFinger, actor documents, inboxes that check HTTP signatures with bovine)
on Quart, plus a control API through which a test makes these actors act::

    GET  /_peer/verify?actor_uri=U   fediverse-pasture's ActorVerifier on U
    POST /_peer/follow   {"actor": name, "object": U}            -> Follow
    POST /_peer/create   {"actor": name, "to": [U...], "content": html}
    POST /_peer/send     {"actor": name, "to": U, "activity": {...}}  as given
    GET  /_peer/inbox    what reached the inboxes (signature checked)
    GET  /<name>/objects/<uuid>   the Notes it created

The actors (from ``generate_possible_actors``): alice (nothing signed),
bob (signed inbox POSTs), claire (signed actor GETs and inbox POSTs), dean,
emily and frank (the same without WebFinger), and ``actor``, the application
actor that signs the key fetches.  Everything they send is built and signed by
bovine, nothing by pleromad's code: this process imports none of it.

Offline: pyld gets its ``@context`` documents from ``contexts/`` (see the
README there); loopback URLs are fetched; any other URL is an error.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import logging
import signal
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import requests
from bovine.activitystreams import ActivityFactory, ObjectFactory
from fediverse_pasture.data_provider import DataProvider, bovine_actor_for_actor_data
from fediverse_pasture.server import BlueprintForActors
from fediverse_pasture.server.verify_actor import ActorVerifier
from fediverse_pasture.types import Message
from hypercorn.asyncio import serve
from hypercorn.config import Config
from pyld import jsonld
from quart import Quart, request

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
CONTEXTS = Path(__file__).parent / "contexts"
LOCAL_CONTEXTS = {
    "https://www.w3.org/ns/activitystreams": "activitystreams.jsonld",
    "http://www.w3.org/ns/activitystreams": "activitystreams.jsonld",
    "https://w3id.org/security/v1": "security-v1.jsonld",
    "https://www.w3.org/ns/did/v1": "did-v1.jsonld",
    "https://w3id.org/security/multikey/v1": "multikey-v1.jsonld",
    "https://purl.archive.org/socialweb/webfinger": "webfinger.jsonld",
}


def _loopback(url: str) -> bool:
    try:
        return ipaddress.ip_address(urlsplit(url).hostname or "").is_loopback
    except ValueError:
        return urlsplit(url).hostname == "localhost"


def load_document(url: str, options: Any = None) -> dict[str, Any]:
    """pyld's document loader: local copies, loopback, nothing else."""
    name = LOCAL_CONTEXTS.get(url.rstrip("/"))
    if name is not None:
        document = json.loads((CONTEXTS / name).read_text())
    elif _loopback(url):
        response = requests.get(
            url, headers={"Accept": "application/ld+json, application/json"}, timeout=10
        )
        response.raise_for_status()
        document = response.json()
    else:
        raise jsonld.JsonLdError(
            f"{url} is not available offline",
            "jsonld.LoadDocumentError",
            {"url": url},
            code="loading document failed",
        )
    return {
        "contentType": "application/ld+json",
        "contextUrl": None,
        "documentUrl": url,
        "document": document,
    }


class Peer:
    """The actors, what reached their inboxes, and what they created."""

    def __init__(self, authority: str) -> None:
        self.base = f"http://{authority}"
        self.authority = authority
        provider = DataProvider.generate()
        self.actors = [*provider.possible_actors, provider.one_actor]
        self.received: list[dict[str, Any]] = []
        self.objects: dict[str, dict[str, Any]] = {}
        self.session: aiohttp.ClientSession | None = None

    def data(self, name: str) -> Any:
        for actor in self.actors:
            if actor.actor_name == name:
                return actor
        raise KeyError(name)

    async def bovine(self, name: str) -> tuple[Any, dict[str, Any]]:
        """The named actor as a signing bovine client, and its document."""
        assert self.session is not None
        client, document = bovine_actor_for_actor_data(f"{self.base}/{name}", self.data(name))
        await client.init(session=self.session)
        return client, document.build()

    def ids(self, actor_id: str, kind: str) -> Callable[[], str]:
        """bovine's id generator: new ids under the actor's."""
        return lambda: f"{actor_id}/{kind}/{uuid.uuid4()}"

    async def deliver(self, client: Any, target: str, activity: dict[str, Any]) -> int:
        """POST the activity, signed, to the target actor's inbox; the status."""
        remote = await client.get(target)
        try:
            response = await client.post(remote["inbox"], activity)
        except aiohttp.ClientResponseError as e:
            return e.status
        response.release()
        return response.status


def build_app(peer: Peer) -> Quart:
    app = Quart(__name__)

    async def on_inbox(activity: dict[str, Any]) -> None:
        peer.received.append({"inbox": request.view_args["actor_name"], "activity": activity})

    app.register_blueprint(BlueprintForActors(peer.actors, on_inbox=on_inbox).blueprint)

    @app.get("/_peer/inbox")
    async def inbox() -> Any:
        return {"received": peer.received}

    @app.get("/_peer/verify")
    async def verify() -> Any:
        message = Message()
        verifier = ActorVerifier(
            actor_list=peer.actors,
            remote_uri=request.args["actor_uri"],
            domain=peer.authority,
            message=message,
            timeout=10,
        )
        result = await verifier.verify()
        return {"result": result, "messages": message.response}

    @app.post("/_peer/follow")
    async def follow() -> Any:
        body = await request.get_json()
        client, document = await peer.bovine(body["actor"])
        factory = ActivityFactory(document, id_generator=peer.ids(document["id"], "activities"))
        activity = factory.follow(body["object"]).build()
        status = await peer.deliver(client, body["object"], activity)
        return {"activity": activity, "status": status}

    @app.post("/_peer/create")
    async def create() -> Any:
        body = await request.get_json()
        client, document = await peer.bovine(body["actor"])
        objects = ObjectFactory(
            actor_information=document, id_generator=peer.ids(document["id"], "objects")
        )
        note = objects.note(content=body["content"], to={PUBLIC, *body["to"]}).build()
        peer.objects[note["id"]] = note
        factory = ActivityFactory(document, id_generator=peer.ids(document["id"], "activities"))
        activity = factory.create(note).build()
        statuses = [await peer.deliver(client, target, activity) for target in body["to"]]
        return {"activity": activity, "statuses": statuses}

    @app.post("/_peer/send")
    async def send() -> Any:
        body = await request.get_json()
        client, _ = await peer.bovine(body["actor"])
        status = await peer.deliver(client, body["to"], body["activity"])
        return {"status": status}

    @app.get("/<actor_name>/objects/<object_uuid>")
    async def stored_object(actor_name: str, object_uuid: str) -> Any:
        found = peer.objects.get(f"{peer.base}/{actor_name}/objects/{object_uuid}")
        if found is None:
            return {"error": "not found"}, 404
        return found, 200, {"content-type": "application/activity+json"}

    return app


async def main(address: str, port: int) -> None:
    jsonld.set_document_loader(load_document)  # after bovine set its own
    peer = Peer(f"{address}:{port}")
    config = Config()
    config.bind = [f"{address}:{port}"]
    config.accesslog = "-"
    config.graceful_timeout = 0.5  # the suite is waiting
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with aiohttp.ClientSession() as session:
        peer.session = session
        await serve(build_app(peer), config, shutdown_trigger=stop.wait)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.4")
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    asyncio.run(main(arguments.address, arguments.port))
