"""Container health check without curl: exit 0 when /health answers 200.

Usable both as the image's HEALTHCHECK and as an ECS container health check:
["CMD", "python", "healthcheck.py"]. Identical in every service image.
"""

import os
import sys
import urllib.request


def main() -> int:
    host = os.environ.get("BIND_HOST", "").strip()
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    url = f"http://{host}:{os.environ.get('PORT', '').strip() or '8080'}/health"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    try:
        with opener.open(url, timeout=2) as response:
            return 0 if response.status == 200 else 1
    except OSError as error:
        print(f"health check {url} failed: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
