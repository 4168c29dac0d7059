"""The sign-in form in Debian's chromium: a form on another site posting a valid token is refused (the
browser's own ``Origin``), and no session cookie is set; the form on this server signs in with a cookie
that is HttpOnly and SameSite=Strict (issue 12, defect 10)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.dashboard.conftest import ADMIN_TOKEN

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EVIL = "http://evil.test/"


def test_a_form_on_another_site_cannot_sign_in(browser: Any, server: str) -> None:
    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        attack = (
            f'<form method="post" action="{server}/dashboard/login">'
            f'<input name="token" value="{ADMIN_TOKEN}"><input name="next" value="/dashboard">'
            '<button type="submit">win a prize</button></form>'
        )
        page.route(EVIL, lambda route: route.fulfill(status=200, content_type="text/html", body=attack))
        page.goto(EVIL)
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert page.url == f"{server}/dashboard/login"
        assert "cross-site" in page.content()
        assert [c for c in ctx.cookies() if c["name"] == "meshmeter_session"] == []
        # the server's own form, in the same browser, signs in
        page.goto(f"{server}/dashboard/login")
        page.fill("#token", ADMIN_TOKEN)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server}/dashboard")
        cookie = next(c for c in ctx.cookies() if c["name"] == "meshmeter_session")
        assert cookie["httpOnly"]
        assert cookie["sameSite"] == "Strict"
        assert not cookie["secure"]  # plain http in development
    finally:
        ctx.close()
