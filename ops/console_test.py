#!/usr/bin/env python3
"""Browser tests of the web console in a real headless Chromium (Debian's chromium and chromedriver,
driven by Selenium; nothing is downloaded at run time). ops/console-test.sh starts the broker and
`pagoda serve`, creates the users and runs this file.

The story: the centre keeps the board open; a worker logs in, sees a new ticket appear on its inbox,
signs and replies; the centre records a satisfied callback and the ticket closes; the board changed
live (without a reload) meanwhile; the worker is refused another unit's ticket and inbox; logout.
A screenshot of each page goes to $SCREENSHOTS (.build/console-screenshots) so a failure can be seen.
"""
import datetime
import json
import os
import pathlib
import subprocess
import sys
import time
import uuid

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

BASE = os.environ["CONSOLE_URL"].rstrip("/")
PAGODA = os.environ["PAGODA_BIN"]
PASSWORD = os.environ["CONSOLE_PASSWORD"]
SHOTS = pathlib.Path(os.environ.get("SCREENSHOTS", ".build/console-screenshots"))
CST = datetime.timezone(datetime.timedelta(hours=8))
RUN = uuid.uuid4().hex[:6].upper()


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1920,1080",
                "--lang=zh-CN"):
        options.add_argument(arg)
    # The page's console (errors of its scripts, Content-Security-Policy refusals) for `script_errors`.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_window_size(1920, 1080)
    return driver


def script_errors(driver):
    """Asserts the pages this browser showed raised no script error and broke no Content-Security-Policy
    (every script is a file of the console's own; a refused or failing one would leave a page dead)."""
    bad = [e["message"] for e in driver.get_log("browser")
           if "Content Security Policy" in e["message"] or "Uncaught" in e["message"]]
    assert not bad, "script errors in the browser: " + "; ".join(bad[:3])


def shot(driver, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    # The whole page: the window grows to the document's height for the picture, then goes back.
    height = driver.execute_script("return Math.max(document.body.scrollHeight, 1080)")
    driver.set_window_size(1920, min(height + 40, 4000))
    driver.save_screenshot(str(SHOTS / f"{name}.png"))
    driver.set_window_size(1920, 1080)


def wait(driver, condition, what, timeout=30):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.25,
                             ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)).until(lambda d: condition(d))
    except TimeoutException:
        shot(driver, "failure-" + what.replace(" ", "-"))
        raise AssertionError(f"timed out after {timeout} s waiting for: {what} (at {driver.current_url})")


def login(driver, name):
    driver.get(BASE + "/login")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button[type=submit]").click()
    wait(driver, lambda d: "/login" not in d.current_url, f"{name} logged in")


def ticket(ticket_id, district, town, text, category):
    now = datetime.datetime.now(CST).replace(microsecond=0)
    return {"id": ticket_id, "received_at": now.isoformat(), "channel": "hotline", "kind": "complaint",
            "region": {"district": district, "town": town}, "text": text, "category": category,
            "caller": {"name": "陈女士", "phone": "13812345678"}}


def route(t):
    out = subprocess.run([PAGODA, "route", "--rules", "rules", "--json", "-"], input=json.dumps(t, ensure_ascii=False),
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[0])["destination"]["unit"]


def publish(*tickets):
    lines = "\n".join(json.dumps(t, ensure_ascii=False) for t in tickets) + "\n"
    subprocess.run([PAGODA, "publish", "-"], input=lines, text=True, check=True)


def body(driver):
    return driver.find_element(By.TAG_NAME, "body").text


def kpi(driver, label):
    # Read in one script: the board redraws its live part at any moment, which would leave elements found
    # one call earlier stale.
    value = driver.execute_script("""
        for (const el of document.querySelectorAll("#board-live .kpi")) {
          const l = el.querySelector(".kpi-label"), v = el.querySelector(".kpi-value");
          if (l && v && l.textContent.trim() === arguments[0]) return v.textContent.trim();
        }
        return null;""", label)
    if value is None:
        raise AssertionError(f"no KPI {label} on the board")
    return int(value)


def submit_action(driver, type_, fill=None):
    form = driver.find_element(By.CSS_SELECTOR, f"form.action[data-type='{type_}']")
    if fill:
        fill(form)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def main():
    worker_name, centre_name, admin_name = os.environ["CONSOLE_WORKER"], os.environ["CONSOLE_CENTRE"], os.environ["CONSOLE_ADMIN"]
    mine = ticket(f"WEB-{RUN}-1", "南海区", "狮山镇", "狮山镇某小区旁河涌受到污染，发黑发臭，希望有关部门前往核查。", "living_environment")
    foreign = ticket(f"WEB-{RUN}-2", "禅城区", "祖庙街道", "小区有住户在楼顶违规加建铁皮房，存在安全隐患。", "city_management")
    unit, foreign_unit = route(mine), route(foreign)
    assert unit and foreign_unit and unit != foreign_unit, (unit, foreign_unit)
    expected_unit = os.environ["CONSOLE_WORKER_UNIT"]
    assert unit == expected_unit, f"the test ticket routes to {unit}, the worker is of {expected_unit}"

    centre = browser()
    worker = browser()
    try:
        # The centre keeps the board open: it must change without a reload.
        login(centre, centre_name)
        centre.get(BASE + "/board")
        wait(centre, lambda d: d.find_elements(By.CSS_SELECTOR, "#board-live .kpi"), "the board's figures")
        centre.execute_script("window.__stayed = 'yes';")
        intake_before = kpi(centre, "今日受理")
        open_before = kpi(centre, "在办工单")
        shot(centre, "01-board-before")

        # The worker logs in and lands on its unit's inbox.
        login(worker, worker_name)
        wait(worker, lambda d: d.current_url.endswith("/units/" + unit), "the worker's inbox")
        shot(worker, "02-inbox-before")

        publish(mine, foreign)

        # The new ticket appears on the inbox by itself (the page follows the unit's count).
        wait(worker, lambda d: d.find_elements(By.CSS_SELECTOR, f"tr[data-ticket='{mine['id']}']"), "the new ticket on the inbox", 60)
        shot(worker, "03-inbox-new-ticket")
        assert not worker.find_elements(By.CSS_SELECTOR, f"tr[data-ticket='{foreign['id']}']"), "another unit's ticket on the inbox"

        # The board changed live: the intake counter went up, and the page was not reloaded.
        wait(centre, lambda d: kpi(d, "今日受理") >= intake_before + 2, "the board's intake counter to go up", 60)
        assert kpi(centre, "在办工单") >= open_before + 2
        assert centre.execute_script("return window.__stayed") == "yes", "the board reloaded instead of updating live"
        shot(centre, "04-board-live")

        # The worker opens the ticket: the caller's phone is masked, the decision names its rule.
        worker.find_element(By.CSS_SELECTOR, f"tr[data-ticket='{mine['id']}'] a").click()
        wait(worker, lambda d: d.find_elements(By.ID, "decision"), "the ticket page")
        assert "13812345678" not in body(worker), "the worker sees the caller's whole phone number"
        assert worker.find_element(By.ID, "rule-place").text.count(":") == 1
        shot(worker, "05-ticket-assigned")

        # Sign, then reply.
        submit_action(worker, "sign")
        wait(worker, lambda d: "已提交" in d.find_element(By.ID, "notice").text, "the sign to be applied")
        assert "办理中" in body(worker)
        # A second submission of an old form (a double click) changes nothing: one 签收 in the timeline.
        submit_action(worker, "reply", lambda f: (Select(f.find_element(By.NAME, "outcome")).select_by_value("resolved"),
                                                    f.find_element(By.NAME, "text").send_keys("已联系环保部门现场清理河涌，污染源已封堵。")))
        wait(worker, lambda d: "待回访" in d.find_element(By.CSS_SELECTOR, ".ticket-head").text, "the reply to be applied")
        signs = [e for e in worker.find_elements(By.CSS_SELECTOR, "#timeline .what") if e.text == "签收"]
        assert len(signs) == 1, f"{len(signs)} 签收 in the timeline"
        assert worker_name in worker.find_element(By.ID, "timeline").text, "the timeline does not name who acted"
        shot(worker, "06-ticket-replied")

        # A foreign unit's ticket and inbox are refused.
        worker.get(BASE + "/tickets/" + foreign["id"])
        assert "无权" in body(worker) or "不属于" in body(worker), "the worker sees another unit's ticket"
        assert foreign["text"] not in body(worker)
        shot(worker, "07-foreign-ticket-refused")
        worker.get(BASE + "/units/" + foreign_unit)
        assert "只能查看本单位" in body(worker)

        # The centre: its desk lists the reply waiting for the callback; it records a satisfied callback.
        centre2 = centre
        centre2.get(BASE + "/centre")
        wait(centre2, lambda d: mine["id"] in d.find_element(By.ID, "desk-callback").text, "the reply on the centre's desk")
        shot(centre2, "08-centre")
        centre2.get(BASE + "/tickets/" + mine["id"])
        assert "13812345678" in body(centre2), "the centre sees the whole phone number"
        submit_action(centre2, "callback_result", lambda f: (
            Select(f.find_element(By.NAME, "reached")).select_by_value("true"),
            Select(f.find_element(By.NAME, "resolved")).select_by_value("true"),
            Select(f.find_element(By.NAME, "satisfaction")).select_by_value("satisfied")))
        wait(centre2, lambda d: "已办结" in d.find_element(By.CSS_SELECTOR, ".ticket-head").text, "the ticket to close")
        shot(centre2, "09-ticket-closed")

        centre2.get(BASE + "/reports")
        wait(centre2, lambda d: d.find_elements(By.ID, "report"), "the report table")
        assert centre2.find_elements(By.CSS_SELECTOR, "svg#overview rect"), "no chart on the reports page"
        shot(centre2, "10-reports")
        centre2.get(BASE + "/board")
        wait(centre2, lambda d: d.find_elements(By.CSS_SELECTOR, "#board-live .kpi"), "the board")
        wait(centre2, lambda d: kpi(d, "今日办结") >= 1, "the closure on the board", 30)
        shot(centre2, "11-board-after")

        # The admin's rules page: the rules in force and a tried ticket.
        admin = browser()
        try:
            login(admin, admin_name)
            admin.get(BASE + "/rules")
            assert len(admin.find_element(By.ID, "rules-hash").text) >= 16, "no rules hash on the rules page"
            admin.find_element(By.CSS_SELECTOR, "#try button[type=submit]").click()
            wait(admin, lambda d: d.find_elements(By.ID, "try-result"), "the tried ticket's decision")
            shot(admin, "12-rules")
            script_errors(admin)
        finally:
            admin.quit()

        # Logout: the session is over; a page asks to log in again.
        worker.get(BASE + "/units/" + unit)
        worker.find_element(By.CSS_SELECTOR, "form.logout button").click()
        wait(worker, lambda d: "/login" in d.current_url, "the login page after logout")
        shot(worker, "13-logged-out")
        worker.get(BASE + "/units/" + unit)
        wait(worker, lambda d: "/login" in d.current_url, "the login page for a page after logout")
        for driver in (centre, worker, centre2):
            script_errors(driver)
    finally:
        centre.quit()
        worker.quit()
    print(f"console browser test: passed; screenshots in {SHOTS}")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"console browser test FAILED: {e}", file=sys.stderr)
        sys.exit(1)
