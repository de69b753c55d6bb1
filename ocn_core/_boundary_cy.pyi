from ocn_core.model import RouteRequest

def screen(req: RouteRequest) -> int: ...
def request_from_http(
    found: tuple[int, str, int, str, str, str],
    method: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
) -> RouteRequest: ...
