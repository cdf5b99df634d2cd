"""The node's HTTP side: REST API, dashboard, Prometheus metrics, health checks.

Needs the ``web`` extra (FastAPI, uvicorn, prometheus-client). A node
starts it when its pipeline's ``http`` setting is on (``dcmnode run`` turns
it on by default); it reads the node only through `dcmnode.node.status`.
"""
