from tests.conftest import CHANNELS  # noqa: F401  (re-exported for the registry tests)


def stored_files(media_root) -> list[str]:
    return (
        sorted(str(p.relative_to(media_root)) for p in media_root.rglob("*") if p.is_file())
        if media_root.exists()
        else []
    )
