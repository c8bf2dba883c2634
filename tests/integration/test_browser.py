"""The chat page in a real browser: Debian's chromium (headless) against `qa serve` with the default model.

Type the question, press Enter, watch the answer stream, click its citation, see the quote highlighted in
the document. Prints the time from Enter to the first streamed token in the page; screenshots go to
tests/artifacts/ (chat.png, chat-375.png, source.png).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
QA = Path(sys.executable).with_name("qa")
QUESTION = "What percentage of sex trafficking victims are advertised online?"
# the model answers it from the passages about Russia's war (a fabrication the verifier must refuse)
REFUSED_QUESTION = "Who won the 2022 FIFA World Cup?"
ANSWER_SECONDS = 240  # a 2-core CPU shared with other work can be slow

# Records, in the page's own clock, when Enter goes down in the question box and when the first
# streamed text appears in an answer; and, for every streamed state of the newest answer, whether the page
# showed it as a draft (its label visible, the text styled as a draft). The page itself has no test hooks.
INSTRUMENT = """
window.__enterAt = null; window.__firstTokenAt = null; window.__draftStates = [];
document.getElementById("question").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { window.__enterAt = performance.now(); window.__draftStates = []; }
}, true);
new MutationObserver(() => {
  const views = document.querySelectorAll(".message.assistant");
  const view = views[views.length - 1];
  if (!view) return;
  const draft = view.querySelector(".answer-text");
  if (!draft.textContent.trim()) return;
  if (window.__firstTokenAt === null) window.__firstTokenAt = performance.now();
  const final = view.querySelector(".timing").textContent.trim() !== "";
  window.__draftStates.push({final, labelled: !view.querySelector(".draft-label").hidden,
                             styled: draft.classList.contains("draft"), text: draft.textContent});
}).observe(document.getElementById("conversation"), {childList: true, subtree: true, characterData: true,
                                                    attributes: true});
"""


def assert_streamed_as_a_draft(driver) -> list[dict]:
    """Every state of the newest answer before its final Answer was shown labelled and styled as a draft."""
    states = driver.execute_script("return window.__draftStates")
    streamed = [s for s in states if not s["final"]]
    assert streamed, "no streamed draft was seen"
    assert all(s["labelled"] and s["styled"] for s in streamed), streamed[:3]
    return states


def ensure_chromium() -> None:
    """Debian's chromium and its driver, from apt: never a browser download."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("chromium is not installed and cannot be installed with apt-get here")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "chromium", "chromium-driver"], check=True, env=env)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The real `qa serve`, with the default model and the index of seeds/ (set up once if missing)."""
    if not (ROOT / "index" / "store" / "manifest.json").exists() or not list((ROOT / "data").glob("models/*.gguf")):
        subprocess.run([str(QA), "setup"], cwd=ROOT, check=True)
    with qa_serve(tmp_path_factory.mktemp("serve") / "serve.log") as base:
        yield base


@contextmanager
def qa_serve(log_path: Path, **env_vars: str) -> Iterator[str]:
    """The real `qa serve` on a free port, with only the given QA_ settings; its URL once /api/health is ready."""
    from eval.bench.loadtest import stop_server

    port = free_port()
    log = log_path.open("w")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")} | env_vars
    process = subprocess.Popen(
        [str(QA), "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert process.poll() is None, f"qa serve exited; see {log.name}"
            try:
                if httpx.get(f"{base}/api/health", timeout=2).json().get("ready"):
                    break
            except (httpx.TransportError, ValueError):
                pass
            time.sleep(0.5)
        else:
            pytest.fail(f"the server was not ready within 240 s; see {log.name}")
        yield base
    finally:
        stop_server(process)
        log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    ensure_chromium()
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never fetch a driver or a browser
    os.environ.setdefault("SE_AVOID_STATS", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
        "--window-size=1280,900",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def test_ask_stream_cite_and_highlight_in_the_browser(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver, wait = browser, WebDriverWait(browser, ANSWER_SECONDS)
    driver.get(f"{server}/")
    wait.until(EC.text_to_be_present_in_element((By.ID, "status"), "Ready"))
    driver.execute_script(INSTRUMENT)

    box = driver.find_element(By.ID, "question")
    assert driver.switch_to.active_element == box, "the question box has focus on load"
    box.send_keys(QUESTION)
    box.send_keys(Keys.ENTER)

    wait.until(lambda d: d.execute_script("return window.__firstTokenAt !== null"))
    first_token_s = driver.execute_script("return (window.__firstTokenAt - window.__enterAt) / 1000")
    print(f"\ntime from Enter to the first streamed token in the page: {first_token_s:.2f} s")

    answer = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, ".message.assistant .timing")))
    wait.until(lambda d: answer.text.strip())
    text = driver.find_element(By.CSS_SELECTOR, ".message.assistant .answer-text")
    assert "draft" not in text.get_attribute("class")
    assert "75" in text.text, text.text
    assert_streamed_as_a_draft(driver)
    assert not driver.find_element(By.CSS_SELECTOR, ".message.assistant .draft-label").is_displayed()
    print(f"answer: {text.text}\ntimings: {answer.text}")
    quote = driver.find_element(By.CSS_SELECTOR, ".message.assistant .sources .passage mark")
    assert "75%" in quote.text
    assert box.get_attribute("value") == "" and driver.find_element(By.ID, "send").is_enabled()
    driver.save_screenshot(str(ARTIFACTS / "chat.png"))

    marker = driver.find_element(By.CSS_SELECTOR, ".message.assistant .answer-text a.marker")
    chat_window = driver.current_window_handle
    marker.click()
    wait.until(lambda d: len(d.window_handles) == 2)
    driver.switch_to.window(next(h for h in driver.window_handles if h != chat_window))
    mark = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "mark#hl")))
    assert "75%" in mark.text
    in_view = driver.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight;", mark
    )
    assert in_view, "the highlighted quote is scrolled into view"
    driver.save_screenshot(str(ARTIFACTS / "source.png"))
    driver.close()
    driver.switch_to.window(chat_window)

    driver.set_window_size(375, 812)
    driver.execute_script("document.querySelector('.message.assistant').scrollIntoView({block: 'start'})")
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow}px wider than a 375px screen"
    driver.save_screenshot(str(ARTIFACTS / "chat-375.png"))


def test_a_draft_that_ends_refused_is_visibly_replaced(server, browser):
    """An unanswerable question the model answers anyway: the streamed draft is labelled as one, then
    replaced by the refusal, with a notice that it was withdrawn and the draft struck through on request."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    driver, wait = browser, WebDriverWait(browser, ANSWER_SECONDS)
    driver.set_window_size(1280, 900)
    driver.get(f"{server}/")
    wait.until(EC.text_to_be_present_in_element((By.ID, "status"), "Ready"))
    driver.execute_script(INSTRUMENT)
    box = driver.find_element(By.ID, "question")
    box.send_keys(REFUSED_QUESTION)
    box.send_keys(Keys.ENTER)
    view = ".message.assistant:last-of-type"
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f"{view} .timing").text.strip())
    text = driver.find_element(By.CSS_SELECTOR, f"{view} .answer-text")
    assert "do not contain an answer" in text.text and "refused" in text.get_attribute("class")
    states = assert_streamed_as_a_draft(driver)
    draft = states[-1]["text"] if not states[-1]["final"] else [s for s in states if not s["final"]][-1]["text"]
    notice = driver.find_element(By.CSS_SELECTOR, f"{view} .notice")
    assert notice.is_displayed() and "withdrawn" in notice.text
    withdrawn = driver.find_element(By.CSS_SELECTOR, f"{view} .withdrawn")
    assert withdrawn.is_displayed()
    withdrawn.find_element(By.TAG_NAME, "summary").click()
    struck = driver.find_element(By.CSS_SELECTOR, f"{view} .withdrawn-text")
    assert struck.text.strip() == draft.strip() and "line-through" in struck.value_of_css_property("text-decoration")
    assert not driver.find_element(By.CSS_SELECTOR, f"{view} .draft-label").is_displayed()
    driver.save_screenshot(str(ARTIFACTS / "refused.png"))


def test_stop_ends_the_answer_and_the_page_stays_usable(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    driver, wait = browser, WebDriverWait(browser, ANSWER_SECONDS)
    driver.set_window_size(1280, 900)
    box = driver.find_element(By.ID, "question")
    box.send_keys("How many of the 57 OSCE signatories criminalise the use of victims of trafficking?")
    box.send_keys(Keys.ENTER)
    stop = driver.find_element(By.ID, "stop")
    wait.until(lambda d: stop.is_enabled())
    stop.click()
    notice = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, ".message.assistant:last-of-type .notice")))
    assert "Stopped" in notice.text
    assert driver.find_element(By.ID, "send").is_enabled() and not stop.is_enabled()

    driver.find_element(By.ID, "clear").click()
    assert driver.find_elements(By.CSS_SELECTOR, ".message") == []
    assert httpx.get(f"{server}/api/health", timeout=5).json()["ready"]


# Document HTML in a real browser: a hostile document, served by the app with fake models (no model needed).
HOSTILE = "zz_hostile.md"
HOSTILE_TEXT = (
    "# Widget plant <img src=x onerror=\"window.__pwned = 'title'\">\n\n"
    "The widget plant in Oslo paints 40 widgets a day <script>window.__pwned = 'text'; alert('owned')</script>.\n"
    "Its <b>night shift</b> <iframe src=\"javascript:window.__pwned='frame'\"></iframe> ships them by train.\n"
)


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    import shutil
    import threading

    import uvicorn

    from index.build import build_index
    from qa.assistant import Assistant
    from qa.settings import Settings
    from web.app import create_app

    from fakes import FakeEmbedder, FakeGenerator

    root = tmp_path_factory.mktemp("hostile")
    shutil.copytree(ROOT / "seeds", root / "corpus")
    (root / "corpus" / HOSTILE).write_text(HOSTILE_TEXT, encoding="utf-8")
    build_index(root / "corpus", root / "store", FakeEmbedder())
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "store")
    reply = "The widget plant in Oslo paints 40 widgets a day <script>alert('answer')</script> [1]."
    app = create_app(Assistant(settings, embedder=FakeEmbedder(), generator=FakeGenerator(reply)))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(500):
        try:
            if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    yield base
    server.should_exit = True
    thread.join(10)


def test_document_and_answer_html_is_shown_as_text_in_the_browser(hostile_server, browser):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    def assert_nothing_ran() -> None:
        with pytest.raises(NoAlertPresentException):
            _ = browser.switch_to.alert.text
        assert browser.execute_script("return window.__pwned === undefined")
        scripts = browser.execute_script("return [...document.scripts].map((s) => s.getAttribute('src'))")
        assert all(src and src.startswith("/static/") for src in scripts), scripts
        assert not browser.find_elements(By.CSS_SELECTOR, "main img, main iframe, main b")

    browser.set_window_size(1280, 900)
    browser.get(f"{hostile_server}/sources/{HOSTILE}?start=0&end=60")
    text = browser.find_element(By.CSS_SELECTOR, ".document-text").text
    assert "<script>window.__pwned = 'text'; alert('owned')</script>" in text and "<b>night shift</b>" in text
    assert_nothing_ran()

    browser.get(f"{hostile_server}/")
    WebDriverWait(browser, 30).until(lambda d: "Ready" in d.find_element(By.ID, "status").text)
    box = browser.find_element(By.ID, "question")
    box.send_keys("How many widgets does the plant in Oslo paint a day?")
    box.send_keys(Keys.ENTER)
    answer = WebDriverWait(browser, 30).until(
        lambda d: (
            d.find_element(By.CSS_SELECTOR, ".message.assistant .timing").text
            and d.find_element(By.CSS_SELECTOR, ".message.assistant")
        )
    )
    assert "<script>" in answer.text  # document text in the quote or passages, as text
    assert_nothing_ran()


# --- Upload: drop a .docx, a .pptx and a PDF onto the page, watch them index, ask about them ---------------

UPLOADS = {
    "shelters.pdf": ["Annual shelter report.", "The Zanzibar shelter housed 47 survivors in 2025."],
    "hotline.pptx": [
        ("Hotline overview", ["The hotline opened in 2019."]),
        ("Calls", ["The Lisbon hotline received 3200 calls in 2024."]),
    ],
    "training.docx": ("Training programme", [("Duration", ["The Tallinn training course for judges lasted 9 days."])]),
}
UPLOAD_QUESTIONS = [  # (question, expected in the answer, file, where in it)
    ("How many survivors did the Zanzibar shelter house in 2025?", "47", "shelters.pdf", "page 2"),
    ("How many calls did the Lisbon hotline receive in 2024?", "3200", "hotline.pptx", "slide 2"),
]

# Drop real files on the page the way a person does: the files are read from disk by a file input that the
# test adds (WebDriver can only give files to an input), then handed to a `drop` event on the document.
DROP_FILES = """
const input = document.createElement("input");
input.type = "file"; input.multiple = true; input.id = "__drop_source"; input.style.display = "none";
document.body.append(input);
"""
DISPATCH_DROP = """
const files = document.getElementById("__drop_source").files;
const data = new DataTransfer();
for (const file of files) data.items.add(file);
document.dispatchEvent(new DragEvent("dragover", {dataTransfer: data, bubbles: true, cancelable: true}));
document.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
return files.length;
"""


@pytest.fixture(scope="module")
def upload_server(tmp_path_factory):
    """`qa serve` with the default model over a copy of seeds/ and of its index, so uploads touch neither."""
    sys.path.insert(0, str(ROOT / "tests"))
    if not (ROOT / "index" / "store" / "manifest.json").exists():
        subprocess.run([str(QA), "setup"], cwd=ROOT, check=True)
    root = tmp_path_factory.mktemp("upload")
    shutil.copytree(ROOT / "seeds", root / "corpus")
    shutil.copytree(ROOT / "index" / "store", root / "store")
    env = {"QA_CORPUS_DIR": str(root / "corpus"), "QA_INDEX_DIR": str(root / "store")}
    with qa_serve(root / "serve.log", **env, QA_COLLECTIONS_DIR=str(root / "collections")) as base:
        yield base, root


def test_dropped_office_files_and_pdf_are_indexed_and_cited_with_page_or_slide(upload_server, browser, tmp_path):
    from documents import docx_bytes, pdf_bytes, pptx_bytes
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    base, root = upload_server
    title, sections = UPLOADS["training.docx"]
    files = {
        "shelters.pdf": pdf_bytes(UPLOADS["shelters.pdf"]),
        "hotline.pptx": pptx_bytes(UPLOADS["hotline.pptx"]),
        "training.docx": docx_bytes(title, sections),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver, wait = browser, WebDriverWait(browser, ANSWER_SECONDS)
    driver.set_window_size(1280, 900)
    driver.get(f"{base}/")
    wait.until(lambda d: "Ready" in d.find_element(By.ID, "status").text)
    before = driver.find_element(By.ID, "status").text

    driver.execute_script(DROP_FILES)
    driver.find_element(By.ID, "__drop_source").send_keys("\n".join(str(tmp_path / n) for n in files))
    started = time.monotonic()
    assert driver.execute_script(DISPATCH_DROP) == 3
    seen = set()  # the job line's texts while it indexes: the progress a person watches
    line = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#upload-jobs .upload-job"))[0]
    while "Indexed" not in line.text and "not indexed" not in line.text and time.monotonic() - started < 120:
        seen.add(line.text)
        time.sleep(0.1)
    print(f"\nupload and indexing of 3 files seen in the page after {time.monotonic() - started:.1f} s: {line.text}")
    print("progress shown:", sorted(seen))
    assert "Indexed" in line.text, line.text
    for name in files:
        assert name in line.text
    assert any("uploading" in s or "embedding" in s or "reading" in s for s in seen), seen
    wait.until(lambda d: d.find_element(By.ID, "status").text != before)  # the status line counts them
    listed = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#doc-list .doc-name")]
    assert all(any(n in item for item in listed) for n in files), listed
    assert (root / "corpus" / "hotline.pptx").read_bytes() == files["hotline.pptx"]
    driver.save_screenshot(str(ARTIFACTS / "upload.png"))

    for k, (question, expected, source, where) in enumerate(UPLOAD_QUESTIONS):
        box = driver.find_element(By.ID, "question")
        box.send_keys(question)
        box.send_keys(Keys.ENTER)
        view = wait.until(
            lambda d, k=k: (
                (views := d.find_elements(By.CSS_SELECTOR, ".message.assistant"))
                and len(views) > k
                and views[k].find_element(By.CSS_SELECTOR, ".timing").text
                and views[k]
            )
        )
        text = view.find_element(By.CSS_SELECTOR, ".answer-text").text
        heads = [e.text for e in view.find_elements(By.CSS_SELECTOR, ".sources .citation-head")]
        print(f"{question} -> {text} | {heads}")
        assert expected in text, text
        assert any(source in h and where in h for h in heads), heads
    driver.save_screenshot(str(ARTIFACTS / "upload-answers.png"))

    # Remove one from the page: confirm, watch the job, the list and the folder lose it.
    remove = driver.find_element(By.CSS_SELECTOR, "#doc-list button[aria-label='Remove training.docx']")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", remove)
    remove.click()
    wait.until(lambda d: d.switch_to.alert).accept()
    wait.until(lambda d: "Removed training.docx" in d.find_element(By.ID, "upload-jobs").text)
    wait.until(lambda d: not any("training.docx" in e.text for e in d.find_elements(By.CSS_SELECTOR, "#doc-list li")))
    assert not (root / "corpus" / "training.docx").exists()
    assert httpx.get(f"{base}/api/sources/training.docx").status_code == 404


def ask_in_page(driver, wait, question: str, k: int):
    """Type a question, send it, and return the k-th answer once it is verified (its timing line is shown)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element(By.ID, "question")
    box.send_keys(question)
    box.send_keys(Keys.ENTER)
    return wait.until(
        lambda d: (
            (views := d.find_elements(By.CSS_SELECTOR, ".message.assistant"))
            and len(views) > k
            and views[k].find_element(By.CSS_SELECTOR, ".timing").text
            and views[k]
        )
    )


def test_a_new_collection_from_the_page_answers_only_from_its_own_documents(upload_server, browser, tmp_path):
    from documents import docx_bytes
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    base, root = upload_server
    archive = tmp_path / "archive.docx"
    archive.write_bytes(docx_bytes("Case archive", [("Holdings", ["The Riga archive holds 815 case files."])]))
    driver, wait = browser, WebDriverWait(browser, ANSWER_SECONDS)
    driver.get(f"{base}/")
    wait.until(lambda d: "Ready" in d.find_element(By.ID, "status").text)

    driver.find_element(By.ID, "new-collection").click()
    prompt = wait.until(lambda d: d.switch_to.alert)
    prompt.send_keys("archives")
    prompt.accept()
    wait.until(lambda d: "collection archives is empty" in d.find_element(By.ID, "status").text)
    assert (root / "collections" / "archives").is_dir()

    driver.execute_script(DROP_FILES)
    driver.find_element(By.ID, "__drop_source").send_keys(str(archive))
    assert driver.execute_script(DISPATCH_DROP) == 1
    wait.until(lambda d: "Indexed archive.docx" in d.find_element(By.ID, "upload-jobs").text)
    wait.until(lambda d: "1 documents" in d.find_element(By.ID, "status").text)
    assert (root / "collections" / "archives" / "archive.docx").exists()
    assert not (root / "corpus" / "archive.docx").exists()

    question = "How many case files does the Riga archive hold?"
    view = ask_in_page(driver, wait, question, 0)
    text = view.find_element(By.CSS_SELECTOR, ".answer-text").text
    links = [e.get_attribute("href") for e in view.find_elements(By.CSS_SELECTOR, ".sources .citation-link")]
    print(f"\n[archives] {question} -> {text} | {links}")
    assert "815" in text and links and all("archive.docx" in h and "collection=archives" in h for h in links)
    assert "815 case files" in httpx.get(links[0]).text  # the source view opens in the right collection
    documents = driver.find_element(By.CSS_SELECTOR, '.site-nav a[href^="/documents"]').get_attribute("href")
    assert documents.endswith("/documents?collection=archives")  # the header's Documents link follows it too
    driver.save_screenshot(str(ARTIFACTS / "collection.png"))

    Select(driver.find_element(By.ID, "collection")).select_by_value("")  # back to the default collection
    assert not driver.find_elements(By.CSS_SELECTOR, ".message.assistant")  # its conversation was cleared
    documents = driver.find_element(By.CSS_SELECTOR, '.site-nav a[href^="/documents"]').get_attribute("href")
    assert documents.endswith("/documents")
    view = ask_in_page(driver, wait, question, 0)
    text = view.find_element(By.CSS_SELECTOR, ".answer-text").text
    heads = [e.text for e in view.find_elements(By.CSS_SELECTOR, ".sources .citation-head, .closest .citation-head")]
    print(f"[default] {question} -> {text} | {heads}")
    assert "815" not in text and not any("archive.docx" in h for h in heads)
