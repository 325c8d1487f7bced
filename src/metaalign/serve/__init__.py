"""Serving MetaAligned models: the Python API, the terminal chat and the OpenAI-compatible server.

api.py (MetaAlignModel) and chat.py need only an Engine; config/protocol/trust/serving/
router/registry/batcher make up `metaalign serve`, playground/ its browser page. Importing this
package pulls in no torch or fastapi.
"""
