# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled routing fast path; mirrors ``_lookup_ref`` (the layout itself is in ``codec``)."""

from ocn_core.registry.codec import KEY_VERSION, SEP, LIST_SEP
from ocn_core.registry.types import Party

cdef bytes _KV = KEY_VERSION
cdef str _SEP = SEP
cdef str _LSEP = LIST_SEP
cdef tuple _EMPTY = ()


cdef inline tuple _tuple(str text):
    if not text:
        return _EMPTY
    return tuple(text.split(_LSEP))


cdef object _decode(bytes key, bytes value, object url):
    cdef list fields = value[21:].decode("utf-8").split(_SEP)
    cdef str text = key[1:].decode("ascii")
    cdef str node_url = "" if url is None else (<bytes>url)[1:].decode("utf-8")
    return Party(
        text[0:2], text[2:5], fields[0], _tuple(fields[2]), _tuple(fields[3]),
        _tuple(fields[4]), fields[1], node_url,
    )


cpdef object lookup_party_by_key(object env, object parties, object nodes, bytes key):
    """As :func:`lookup_party` for an already-built party key."""
    cdef object txn = env.begin(db=parties)
    cdef object value
    cdef object url
    try:
        value = txn.get(key)
        if value is None:
            return None
        url = txn.get(_KV + (<bytes>value)[1:21], db=nodes)
    finally:
        txn.abort()
    return _decode(key, <bytes>value, url)


cpdef object lookup_party(object env, object parties, object nodes, str country_code, str party_id):
    """The party listed under the (case-insensitive) OCPI id, joined with its node's URL."""
    if len(country_code) != 2 or len(party_id) != 3:
        return None
    cdef bytes key
    try:
        key = _KV + (country_code + party_id).upper().encode("ascii")
    except UnicodeEncodeError:
        return None
    return lookup_party_by_key(env, parties, nodes, key)
