"""Page URLs, one module per feature (each its own namespace): `backtests` ("backtesting_app") and
`optimizations` ("optimizations"), included by forexgpt_site/urls.py."""
