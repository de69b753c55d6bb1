"""Node-issued URLs: rewrite response_url, Link and Location so every hop goes through the node.

* commands / chargingprofiles (receiver): the async ``response_url`` (body for POST/PUT, query for
  GET/DELETE) becomes ``{node}/ocpi/sender/{v}/{module}/{COMMAND|result}/{id}``, stored for the
  reversed pair (the CPO will send the result to the requester);
* paginated list answers: ``Link: <next>`` becomes ``{node}/ocpi/{role}/{v}/{module}/page/{id}``;
* CDR POST answers: ``Location`` becomes ``{node}/ocpi/receiver/{v}/cdrs/{id}``.
"""

from __future__ import annotations

from ocn_core.hub import signatures
from ocn_core.hub.context import NodeContext
from ocn_core.hub.rewrite import next_link, swap_body_response_url, swap_query_response_url
from ocn_core.model import RouteRequest, RouteResponse
from ocn_core.routing import ModuleRoute, module_route
from ocn_core.wire import header_index


def _version(req: RouteRequest) -> str:
    return req.ocpi_version or "2.2.1"


def proxy_response_url(ctx: NodeContext, req: RouteRequest) -> tuple[str, bytes, dict[str, str]]:
    """Store the requester's response_url and put a node URL in its place.

    Returns (query, body, stash): the stash maps the changed signed value's path to its old value.
    """
    proxy_id = ctx.proxies.new_id()
    node_url = response_url_proxy(ctx.settings.public_url, req, proxy_id, _version(req))
    query, body, stash = swap_response_url(req, node_url)
    old = next(iter(stash.values()))
    # the receiver will send the result: store it for the reversed (sender, receiver) pair
    ctx.proxies.put(old, req.to_party.key, req.from_party.key, ctx.settings.proxy_ttl, proxy_id)
    return query, body, stash


def response_url_proxy(node: str, req: RouteRequest, proxy_id: str, version: str) -> str:
    """The URL on ``node`` where the receiver sends the async result of ``req``."""
    segment = req.path_suffix.split("/", 1)[0] if req.module == "commands" else "result"
    results = module_route(req.module, "SENDER", version)
    if results is not None and segment not in results.proxied and "result" in results.proxied:
        segment = "result"  # an open-enum command type (2.3.0): the generic result URL
    return f"{node}/ocpi/sender/{version}/{req.module}/{segment}/{proxy_id}"


def swap_response_url(req: RouteRequest, node_url: str) -> tuple[str, bytes, dict[str, str]]:
    """Put ``node_url`` in place of the response_url (body for POST/PUT, query for GET/DELETE).

    Returns (query, body, stash): the stash maps the changed signed value's path to its old value.
    """
    query, body = req.query, req.body
    if req.method in ("GET", "DELETE"):
        query, old = swap_query_response_url(req.query, node_url)
        path = "$['params']['response_url']"
    else:
        body, old = swap_body_response_url(req.body, node_url)
        path = "$['body']['response_url']"
    return query, body, {path: old}


def proxy_response_headers(
    ctx: NodeContext, req: RouteRequest, row: ModuleRoute | None, resp: RouteResponse
) -> RouteResponse:
    """Replace a next-page Link or a CDR Location with node URLs (successful answers only)."""
    if row is None or resp.status >= 300:
        return resp
    old: str | None = None
    if row.paged and req.method == "GET" and resp.ocpi_status == 1000:
        at = header_index(resp.headers, "link")
        if at >= 0:
            name, old = "link", _swap_header(resp, at, _page_link(ctx, req, resp.headers[at][1]))
    elif row.location_header and req.method == "POST" and resp.ocpi_status == 1000:
        at = header_index(resp.headers, "location")
        if at >= 0:
            new = _cdr_location(ctx, req, resp.headers[at][1])
            name, old = "location", _swap_header(resp, at, new)
    if old is not None and signatures.active(ctx, req):
        signatures.resign_response(ctx, resp, {f"$['headers']['{name}']": old})
    return resp


def _page_link(ctx: NodeContext, req: RouteRequest, link: str) -> str | None:
    url = next_link(link)
    if url is None:
        return None
    proxy_id = ctx.proxies.put(url, req.from_party.key, req.to_party.key, ctx.settings.proxy_ttl)
    role = req.interface_role.ocpi.lower()
    node_url = f"{ctx.settings.public_url}/ocpi/{role}/{_version(req)}/{req.module}/page/{proxy_id}"
    return f'<{node_url}>; rel="next"'


def _cdr_location(ctx: NodeContext, req: RouteRequest, location: str) -> str:
    proxy_id = ctx.proxies.put(
        location, req.from_party.key, req.to_party.key, ctx.settings.proxy_ttl
    )
    return f"{ctx.settings.public_url}/ocpi/receiver/{_version(req)}/cdrs/{proxy_id}"


def _swap_header(resp: RouteResponse, at: int, new: str | None) -> str:
    """Replace header ``at`` by ``new`` (dropped when None); returns the old value."""
    key, old = resp.headers[at]
    if new is None:
        del resp.headers[at]
    else:
        resp.headers[at] = (key, new)
    return old
