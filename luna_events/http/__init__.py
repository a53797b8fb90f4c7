"""HTTP request monitoring: ASGI (Starlette, FastAPI), aiohttp and WSGI (Flask) middleware."""
