"""The ASGI server: prediction routes (Vertex AI, KServe V1, Open Inference Protocol V2),
the endpoint management API, metrics and health, over every endpoint of a workspace."""

from pmle._util import lazy_exports

__all__ = ["create_app", "serve"]
__getattr__ = lazy_exports(__name__, {"create_app": "app", "serve": "run"})
