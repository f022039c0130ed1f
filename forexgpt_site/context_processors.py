NAVIGATION = [
    ("dashboard", "Dashboard"),
    ("marketdata:data", "Data"),
    ("hardware", "Hardware"),
    ("training", "Training"),
    ("backtests", "Backtests"),
    ("optimizations", "Optimizations"),
    ("conformal", "Conformal"),
    ("registry:list", "Registry"),
]


def navigation(request):
    return {"navigation": NAVIGATION}
