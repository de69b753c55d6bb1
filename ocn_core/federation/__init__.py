"""Node-to-node routing: requests for other nodes' parties over signed ``/ocn/message`` posts.

``outbound`` sends (registry lookup, URL policy, node signature), ``inbound`` receives (the
reference's checks, replay guard, local delivery through the engine), ``message`` is the wire
layout shared with the Kotlin reference node.
"""
