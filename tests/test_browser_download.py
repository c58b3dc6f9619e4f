"""Download batch under concurrent sessions, in Chromium: five sessions of one server each open the Batch file tab and
click Download batch at once, three times, while the others' reruns end around them. Every one of the 15 clicks must
deliver the batch's zip (a zip made only on the click was a placeholder that another session's run could drop:
"Deferred file … not found", and the download never started)."""

import io
import zipfile

from test_browser import browser, drawn, pytestmark, server  # noqa: F401

SESSIONS, ROUNDS = 5, 3


def test_fifteen_downloads_from_five_sessions_at_once(server, browser):  # noqa: F811
    pages = []
    for _ in range(SESSIONS):
        pg = browser.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True).new_page()
        pg.set_default_timeout(180_000)
        pg.goto(server)
        pg.get_by_role("tab", name="Batch file").wait_for()
        drawn(pg)
        pages.append(pg)

    zips = []
    for _ in range(ROUNDS):
        for pg in pages:  # every session reruns (the tab's on_change) at about the same time
            pg.get_by_role("tab", name="Upload clips").click()
            pg.get_by_role("tab", name="Batch file").click()
        for pg in pages:  # each click lands while the other sessions' runs are still ending
            with pg.expect_download(timeout=60_000) as download:
                pg.get_by_role("button", name="Download batch").click()
            assert download.value.failure() is None, download.value.failure()
            zips.append(download.value.path().read_bytes())

    assert len(zips) == SESSIONS * ROUNDS
    assert len(set(zips)) == 1  # one batch, one deterministic zip
    with zipfile.ZipFile(io.BytesIO(zips[0])) as zf:
        names = zf.namelist()
    assert "batch.csv" in names and "settings.json" in names
    assert sum(n.startswith("clips/") for n in names) == 12  # the 12-pair default batch
