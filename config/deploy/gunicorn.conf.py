"""gunicorn settings for production: `gunicorn -c config/deploy/gunicorn.conf.py config.wsgi`.

Every value can be overridden from the environment; the defaults suit a 2-core machine.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# One process per core, four threads each: the request path waits on PostgreSQL about half its
# time, and fewer processes spread the kept-alive connections more evenly (docs/performance.md:
# 2 x 4 answered sign-ups with a lower p99 than 4 x 2 or 5 x 2, in half the memory).
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", 4))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
# Every worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads new connections
# over them. With one shared socket, whichever worker woke first accepted most of them and kept
# them alive ([29, 1, 1, 1] was seen): one process, one core's worth of Python, served nearly all.
# Costs: a worker that exits (max_requests, reload) drops connections still waiting in its own
# accept queue unless net.ipv4.tcp_migrate_req=1 (Linux 5.14+); and a second server started on
# the same port by the same user shares it instead of failing. GUNICORN_REUSE_PORT=false: one socket.
reuse_port = os.environ.get("GUNICORN_REUSE_PORT", "true").lower() in ("1", "true", "yes", "on")
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak can never grow without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 5000))
max_requests_jitter = 500
accesslog = "-"
errorlog = "-"
# "remote" is the client as config/client.py reads it (NUM_PROXIES), not the proxy in front.
logger_class = "config.gunicorn_logging.ClientAddressLogger"
access_log_format = '{"remote":"%(h)s","request":"%(m)s %(U)s","status":%(s)s,"bytes":%(B)s,"ms":%(M)s}'
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
control_socket_disable = True
