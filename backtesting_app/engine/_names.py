"""How an error message offers a set of names."""


def one_of(names) -> str:
    """`a, b or c`: the names a request may choose from (a registry's keys), as a message lists them."""
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
