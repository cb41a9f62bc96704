"""The notification a real send started in the console ends with, as a newcomer saw it in a first Aliyun campaign:
'first-sms: paused · sent 0' after every number was refused and the failure brake paused the campaign — neither
the failures nor the reason were said (the CLI's launch says both)."""

from __future__ import annotations

from console.campaigns import model
from tests.campaign_support import add_template, add_users, load_workspace, write_config
from tests.test_provider_aliyun import PER_USER, _server
from tests.tui_helpers import make_app, wait_for

USERS = 60   # over the brakes' min_sends (50)


async def test_a_real_send_s_notice_says_its_failures_and_why_it_paused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WB_ALI_ID", "LTAI-test")
    monkeypatch.setenv("WB_ALI_SECRET", "ali-s3cret")
    broke = {f"138{i:08d}": ("isv.MOBILE_NUMBER_ILLEGAL", "手机号码格式错误") for i in range(1, USERS + 1)}
    with _server(code_for=broke) as srv:
        ws = load_workspace(write_config(tmp_path / "winback.toml", {"sms": {
            "transport": "aliyun", "access_key_id_env": "WB_ALI_ID", "access_key_secret_env": "WB_ALI_SECRET",
            "sign_name": "品牌", "endpoint": srv.url, "retries": 1, "content_rules": False}}))
        db = ws.open()
        add_users(db, USERS)
        add_template(db, ws.config, PER_USER)
        model.create(db, "first-sms", segment="all", channel="sms", template="care-ali", holdout=0)
        db.close()
        app = make_app(ws)
        async with app.run_test(size=(100, 30)) as pilot:
            app.start_dispatch("launch", "first-sms", real=True)

            def notices() -> list[str]:
                return [f"{n.title}: {n.message}" for n in app._notifications if "first-sms" in n.message]

            await wait_for(pilot, notices, what="the send's notification")
    notice = notices()[0]
    assert notice.startswith("send finished: first-sms: paused · sent 0 · failed 60"), notice
    assert "brake:" in notice and "r on Deliveries resumes" in notice, notice
