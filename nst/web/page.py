"""The Gradio page: Make a picture, Gallery, Fast networks. Layout and handlers only; the work is
nst's (nst.web.painting runs pictures, nst.web.gallery reads runs, nst.api applies networks).

Every handler turns a UserError into one line on the page (`⚠ ...`) and leaves everything else
as it was; the files it reads come from the shipped lists, checked uploads, or run directories
under the runs folder (nst.web.gallery's confinement).
"""

import dataclasses
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np

from nst import api
from nst.errors import UserError
from nst.web import controls, gallery, painting, uploads

REPOSITORY = Path(__file__).resolve().parents[2]
ASSETS = REPOSITORY / "assets"
MODELS = REPOSITORY / "models"
SHIPPED_PHOTOS = [
    "tubingen.jpg",
    "astronaut.png",
    *[f"kodak/validation/kodim{n:02d}.jpg" for n in (5, 15, 23)],
]
SHIPPED_PAINTINGS = ["starry_night.jpg", "the_scream.jpg", "shipwreck.jpg"]
NONE = "(none)"
POLL_SECONDS = 2.0  # how often the picture as it forms is sent to the page

MEANINGS = {
    "palette": "colours against the painting's (lower is closer)",
    "strokes": "stroke sizes and sharpness against the painting's (lower is closer)",
    "contrast": "light and dark range (1 is the painting's)",
    "coherence": "how long and oriented the strokes are (the painting's value is the aim)",
    "content": "how far the photo's shapes moved (lower is closer)",
    "style": "the painting's texture statistics (lower is closer)",
}


@dataclasses.dataclass
class Site:
    """What one page serves: the runs folder and at most `jobs` pictures at once."""

    runs: Path
    max_upload_mb: float = uploads.MAX_UPLOAD_MB
    jobs: int = 1  # pictures made at once; Start and Resume beyond that wait in the queue
    paintings: dict[str, painting.Painting] = dataclasses.field(default_factory=dict)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    @property
    def readable(self) -> list[Path]:
        return [ASSETS, MODELS, self.runs]

    def stop_all(self, timeout: float = 60) -> None:
        """Server shutdown: every picture in progress saves its checkpoint first."""
        with self.lock:
            running = list(self.paintings.values())
        for each in running:
            each.stop()
        for each in running:
            each.wait(timeout)


def _shipped(names: list[str]) -> list[tuple[str, str]]:
    """(label, value) choices: the value is the file's path under assets/."""
    return [(Path(name).stem, name) for name in names if (ASSETS / name).is_file()]


def _models(runs: Path) -> list[tuple[str, str]]:
    shipped = [(f"shipped: {path.stem}", str(path)) for path in sorted(MODELS.glob("*.keras"))]
    trained = sorted(
        runs.glob("**/model.keras"), key=lambda path: path.stat().st_mtime, reverse=True
    )
    return shipped + [(path.parent.relative_to(runs).as_posix(), str(path)) for path in trained]


def _image_choice(site: Site, shipped: str | None, upload: str | None, role: str):
    """The upload's checked pixels if there is one, else the shipped file's path (or None)."""
    if upload:
        return uploads.read_upload(upload, role, site.max_upload_mb)
    if shipped in (None, "", NONE):
        return None
    return str(gallery.file_under(ASSETS / shipped, [ASSETS]))


def _preview(site: Site, shipped, upload, role: str):
    try:
        choice = _image_choice(site, shipped, upload, role)
    except UserError as error:
        return None, f"⚠ {error}"
    if choice is None:
        return None, gr.skip()
    if isinstance(choice, str):
        from nst import images

        choice = images.load_image(choice, max_size=384, role=role)
    return choice, gr.skip()


def _readout(scores: dict[str, float]) -> list[list[str]]:
    return [[name, f"{value:.3f}", MEANINGS.get(name, "")] for name, value in scores.items()]


def _downloads(run_dir: Path | None) -> list[str]:
    if run_dir is None:
        return []
    names = ("final.png", "interrupted.png", "config.yaml")
    return [str(run_dir / name) for name in names if (run_dir / name).is_file()]


def build(site: Site) -> gr.Blocks:
    photos, paintings = _shipped(SHIPPED_PHOTOS), _shipped(SHIPPED_PAINTINGS)
    with gr.Blocks(title="nst", analytics_enabled=False) as page:
        gr.Markdown(
            "# nst — paint a photo in the style of a painting\n"
            "Choose a photo and a painting, press **Start**, watch it form. Every picture is a run "
            f"directory under `{site.runs}` (`nst resume`, `nst score` and TensorBoard work on it)."
        )
        with gr.Tabs() as tabs:
            with gr.Tab("Make a picture", id="make"):
                make = _make_tab(site, page, photos, paintings)
            with gr.Tab("Gallery", id="gallery"):
                _gallery_tab(site, page, make, tabs, photos, paintings)
            with gr.Tab("Fast networks", id="fast") as fast:
                model = _fast_tab(site, photos)
        # Networks trained since the page started appear when the tab is opened.
        fast.select(lambda: gr.Dropdown(choices=_models(site.runs)), None, [model], api_name=False)
    return page


def _make_tab(site: Site, page: gr.Blocks, photos, paintings) -> SimpleNamespace:
    """Photo, paintings, controls; Start, Stop, Resume; the picture as it forms."""
    with gr.Row():
        with gr.Column(scale=1):
            with gr.Row():
                photo = gr.Dropdown(photos, value=photos[0][1] if photos else None, label="Photo")
                photo_upload = gr.File(label="…or upload a photo", type="filepath", height=120)
            slots = []
            with gr.Row():
                first = gr.Dropdown(
                    paintings,
                    value=paintings[0][1] if paintings else None,
                    label="Painting",
                )
                first_upload = gr.File(label="…or upload a painting", type="filepath", height=120)
            slots.append(
                (
                    first,
                    first_upload,
                    gr.Slider(0, 1, 1, step=0.05, label="blend weight", visible=False),
                )
            )
            with gr.Accordion("Blend more paintings", open=False):
                for number in (2, 3):
                    with gr.Row():
                        more = gr.Dropdown(
                            [(NONE, NONE), *paintings],
                            value=NONE,
                            label=f"Painting {number}",
                        )
                        more_upload = gr.File(label="…or upload", type="filepath", height=120)
                        weight = gr.Slider(0, 1, 0.5, step=0.05, label="blend weight")
                    slots.append((more, more_upload, weight))
            size = _control(gr.Slider, "size", "Size (px, longest side)", 32, 1024, step=16)
            strength = _control(gr.Slider, "style_strength", "Style strength", 0.5, 50, step=0.5)
            brush = _control(gr.Slider, "brush_size", "Brush size", 0.25, 2, step=0.05)
            smoothness = _control(gr.Slider, "smoothness", "Smoothness", 0, 0.5, step=0.01)
            colours = _control(gr.Radio, "colours", "Colours", list(controls.COLOURS))
            quality = _control(gr.Radio, "quality", "Quality", list(controls.QUALITY))
            with gr.Accordion("Network", open=False):
                network = _control(gr.Radio, "network", "Network", list(controls.NETWORKS))
                weights = _control(gr.Radio, "weights", "Weights", list(controls.WEIGHTS))
        with gr.Column(scale=1):
            with gr.Row():
                start = gr.Button("Start", variant="primary")
                stop = gr.Button("Stop", variant="stop")
                resume = gr.Button("Resume")
            status = gr.Markdown("Ready.", elem_id="status")
            picture = gr.Image(label="The picture", format="png", interactive=False, height=420)
            with gr.Row():
                photo_preview = gr.Image(label="Photo", interactive=False, height=140)
                painting_preview = gr.Image(label="Painting", interactive=False, height=140)
            readout = gr.Dataframe(
                headers=[
                    "score",
                    "value",
                    "what it measures",
                ],
                label="Quality readout",
                interactive=False,
            )
            downloads = gr.File(label="Download", file_count="multiple", interactive=False)
            run_dir = gr.Textbox(label="Run directory", interactive=False)

    def show_photo(shipped, upload):
        return _preview(site, shipped, upload, "photo")

    def show_painting(shipped, upload):
        return _preview(site, shipped, upload, "painting")

    for source in (photo, photo_upload):
        source.change(show_photo, [photo, photo_upload], [photo_preview, status], api_name=False)
    for source in (first, first_upload):
        source.change(
            show_painting, [first, first_upload], [painting_preview, status], api_name=False
        )
    page.load(show_photo, [photo, photo_upload], [photo_preview, status], api_name=False)
    page.load(show_painting, [first, first_upload], [painting_preview, status], api_name=False)

    slot_inputs = [component for slot in slots for component in slot]
    control_inputs = [size, strength, brush, smoothness, colours, quality, network, weights]
    outputs = [status, picture, readout, downloads, run_dir]

    def paint(
        photo,
        photo_upload,
        painting_1,
        painting_1_upload,
        painting_1_weight,
        painting_2,
        painting_2_upload,
        painting_2_weight,
        painting_3,
        painting_3_upload,
        painting_3_weight,
        size,
        style_strength,
        brush_size,
        smoothness,
        colours,
        quality,
        network,
        weights,
        request: gr.Request,
    ):
        """Start a picture (the API's /paint takes the page's controls in this order)."""
        try:
            content = _image_choice(site, photo, photo_upload, "photo")
            if content is None:
                raise UserError("choose a photo (a shipped one or an upload)")
            slot_values = [
                (painting_1, painting_1_upload, painting_1_weight),
                (painting_2, painting_2_upload, painting_2_weight),
                (painting_3, painting_3_upload, painting_3_weight),
            ]
            chosen_paintings = [
                _image_choice(site, shipped, upload, f"painting {number}")
                for number, (shipped, upload, _) in enumerate(slot_values, 1)
            ]
            styles = controls.blend(chosen_paintings, [slot[2] for slot in slot_values])
            settings = controls.overrides(
                controls.Controls(
                    size,
                    style_strength,
                    brush_size,
                    smoothness,
                    colours,
                    quality,
                    network,
                    weights,
                )
            )
        except UserError as error:
            yield f"⚠ {error}", gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        yield from _follow(
            site, request, painting.new_picture(content, styles, settings, str(site.runs))
        )

    def resume_run(run_text, request: gr.Request):
        try:
            chosen_dir = gallery.run_dir_under(site.runs, _relative(site, run_text))
            if not gallery.read_run(chosen_dir).resumable:
                raise UserError(
                    f"{run_text} has no checkpoint to resume (finished, or stopped "
                    "before its first step)"
                )
        except UserError as error:
            yield f"⚠ {error}", gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        yield from _follow(site, request, painting.resumed_picture(chosen_dir))

    def stop_picture(request: gr.Request):
        with site.lock:
            current = site.paintings.get(request.session_hash)
        if current is None:
            return "Nothing is running."
        current.stop()
        return "Stopping at the next step…"

    start.click(
        paint,
        [photo, photo_upload, *slot_inputs, *control_inputs],
        outputs,
        api_name="paint",
        concurrency_id="picture",
        concurrency_limit=site.jobs,
    )
    resume.click(
        resume_run,
        [run_dir],
        outputs,
        api_name="resume",
        concurrency_id="picture",
        concurrency_limit=site.jobs,
    )
    stop.click(stop_picture, None, [status], api_name="stop", queue=False)

    return SimpleNamespace(
        photo=photo,
        photo_upload=photo_upload,
        slots=slots,
        slot_inputs=slot_inputs,
        control_inputs=control_inputs,
        status=status,
        outputs=outputs,
        run_dir=run_dir,
        resume_run=resume_run,
    )


def _gallery_tab(site: Site, page: gr.Blocks, make: SimpleNamespace, tabs, photos, paintings):
    """The runs with their pictures, readouts and settings; two side by side."""
    refresh = gr.Button("Refresh")
    shelf = gr.Gallery(
        label="Runs (newest first)",
        columns=4,
        fit_columns=False,
        object_fit="contain",
        height=300,
        allow_preview=False,
    )
    listed = gr.State([])
    with gr.Row():
        with gr.Column():
            chosen = gr.Textbox(label="Chosen run", interactive=False)
            chosen_picture = gr.Image(label="Picture", interactive=False, height=320)
            with gr.Row():
                again = gr.Button("Use these settings again")
                resume_chosen = gr.Button("Resume this run")
        with gr.Column():
            chosen_readout = gr.Dataframe(
                headers=[
                    "score",
                    "value",
                    "what it measures",
                ],
                label="Quality readout",
                interactive=False,
            )
            chosen_settings = gr.Dataframe(
                headers=["setting", "value", "config key"],
                label="Settings",
                interactive=False,
            )
            chosen_files = gr.File(label="Download", file_count="multiple", interactive=False)
    gr.Markdown("### Two runs side by side")
    with gr.Row():
        left = gr.Dropdown([], label="Run A")
        right = gr.Dropdown([], label="Run B")
    with gr.Row():
        left_picture = gr.Image(label="A", interactive=False, height=320)
        right_picture = gr.Image(label="B", interactive=False, height=320)
    compared = gr.Dataframe(
        headers=["", "A", "B"],
        label="Readout and the settings that differ",
        interactive=False,
    )

    def refresh_gallery():
        entries = gallery.list_runs(site.runs)
        shown = [entry for entry in entries if entry.picture is not None]
        items = [(str(entry.picture), entry.caption(site.runs)) for entry in shown]
        labels = [entry.label(site.runs) for entry in shown]
        choices = [entry.label(site.runs) for entry in entries]
        return items, labels, gr.Dropdown(choices=choices), gr.Dropdown(choices=choices)

    def choose(labels, event: gr.SelectData):
        return describe(labels[event.index])

    def describe(label):
        try:
            entry = gallery.read_run(gallery.run_dir_under(site.runs, label))
            settings = controls.settings_table(entry.config())
        except UserError as error:
            return f"⚠ {error}", None, [], [], []
        picture_path = str(entry.picture) if entry.picture else None
        return label, picture_path, _readout(entry.scores), settings, _downloads(entry.run_dir)

    def use_again(label):
        try:
            config = gallery.read_run(gallery.run_dir_under(site.runs, label)).config()
            photo_values = _shipped_or_upload(site, config.content, photos)
            slot_values = []
            for index in range(len(make.slots)):
                if index < len(config.style):
                    style = config.style[index]
                    shipped, upload = _shipped_or_upload(site, style.path, paintings)
                    slot_values += [shipped, upload, style.weight]
                else:
                    slot_values += [NONE, None, 0.5]
        except UserError as error:
            return [f"⚠ {error}", *[gr.skip()] * (len(again_outputs) - 1)]
        settings = controls.from_config(config)
        values = [getattr(settings, field.name) for field in dataclasses.fields(settings)]
        loaded = f"Settings of {label} loaded: press Start."
        return [loaded, *values, *photo_values, *slot_values, gr.Tabs(selected="make")]

    again_outputs = [
        make.status,
        *make.control_inputs,
        make.photo,
        make.photo_upload,
        *make.slot_inputs,
        tabs,
    ]
    refresh.click(refresh_gallery, None, [shelf, listed, left, right], api_name="gallery")
    page.load(refresh_gallery, None, [shelf, listed, left, right], api_name=False)
    details = [chosen, chosen_picture, chosen_readout, chosen_settings, chosen_files]
    shelf.select(choose, [listed], details, api_name=False)
    chosen.submit(describe, [chosen], details, api_name="describe")
    again.click(
        use_again,
        [chosen],
        again_outputs,
        api_name="use_again",
    )
    resume_chosen.click(lambda label: label, [chosen], [make.run_dir], api_name=False).then(
        make.resume_run,
        [make.run_dir],
        make.outputs,
        concurrency_id="picture",
        concurrency_limit=site.jobs,
        api_name=False,
    ).then(lambda: gr.Tabs(selected="make"), None, [tabs], api_name=False)

    def side_by_side(label_a, label_b):
        if not label_a or not label_b:
            return None, None, []
        try:
            entries = [
                gallery.read_run(gallery.run_dir_under(site.runs, label))
                for label in (label_a, label_b)
            ]
        except UserError as error:
            return None, None, [[f"⚠ {error}", "", ""]]
        pictures = [str(entry.picture) if entry.picture else None for entry in entries]
        return *pictures, gallery.comparison(entries)

    for side in (left, right):
        side.change(
            side_by_side, [left, right], [left_picture, right_picture, compared], api_name=False
        )


def _fast_tab(site: Site, photos) -> gr.Dropdown:
    """A trained network applied to a photo at once, with its strength slider."""
    defaults = controls.Controls()
    gr.Markdown(
        "A trained network (`nst train`) paints a photo in one pass: milliseconds, not minutes."
    )
    with gr.Row():
        with gr.Column():
            models = _models(site.runs)
            model = gr.Dropdown(models, value=models[0][1] if models else None, label="Network")
            with gr.Row():
                fast_photo = gr.Dropdown(
                    photos, value=photos[0][1] if photos else None, label="Photo"
                )
                fast_upload = gr.File(label="…or upload a photo", type="filepath", height=120)
            fast_strength = gr.Slider(
                0, 1, 1, step=0.05, label="Style strength", info="nst apply --strength"
            )
            fast_colours = gr.Radio(
                list(controls.COLOURS),
                value=defaults.colours,
                label="Colours",
                info="nst apply --preserve",
            )
            fast_size = gr.Slider(
                64,
                1024,
                512,
                step=16,
                label="Size (px, longest side)",
                info="nst apply --size",
            )
            fast_go = gr.Button("Paint", variant="primary")
        with gr.Column():
            fast_status = gr.Markdown("")
            fast_picture = gr.Image(
                label="The picture", format="png", interactive=False, height=420
            )

    def apply_model(
        model_path, shipped_photo, uploaded_photo, strength_value, colour_label, size_value
    ):
        try:
            model_file = gallery.file_under(model_path or "", site.readable)
            content = _image_choice(site, shipped_photo, uploaded_photo, "photo")
            if content is None:
                raise UserError("choose a photo (a shipped one or an upload)")
            if isinstance(content, str):
                from nst import images

                content = images.load_image(content, role="photo")
            content = _fit(content, int(size_value))
            started = time.perf_counter()
            result = api.apply(
                model_file,
                content,
                strength=float(strength_value),
                preserve=controls.COLOURS[colour_label],
                progress=False,
            )
            seconds = time.perf_counter() - started
        except UserError as error:
            return f"⚠ {error}", gr.skip()
        return (
            f"{result.width}x{result.height} in {seconds * 1000:.0f} ms "
            "(the first call also loads the network)",
            result,
        )

    fast_inputs = [model, fast_photo, fast_upload, fast_strength, fast_colours, fast_size]
    fast_go.click(
        apply_model,
        fast_inputs,
        [fast_status, fast_picture],
        api_name="apply",
        concurrency_id="fast",
        concurrency_limit=1,
    )
    fast_strength.release(
        apply_model,
        fast_inputs,
        [fast_status, fast_picture],
        api_name=False,
        concurrency_id="fast",
    )
    return model


def _control(kind, name: str, label: str, *choices_or_range, **options):
    """A control named for what it does, at the config's default, with its config key (and,
    for quality, what each schedule is) written under it."""
    info = controls.KEYS[name]
    if name == "quality":
        info = "; ".join(
            f"{choice}: {keys['scales.steps']} steps a scale, {keys['optim.steps']} at full size"
            for choice, keys in controls.QUALITY.items()
        )
    if name == "weights":
        info += " (auto: ImageNet if Keras has it, else the offline HED weights)"
    value = getattr(controls.Controls(), name)
    return kind(*choices_or_range, value=value, label=label, info=info, **options)


def _fit(pixels: np.ndarray, size: int) -> np.ndarray:
    from nst import images

    return images.resize_longest_side(pixels, size) if max(pixels.shape[:2]) != size else pixels


def _shipped_or_upload(site: Site, path: str, shipped: list[tuple[str, str]]):
    """A run's image as the page's (shipped choice, upload) pair: a shipped file by its name,
    anything else (an earlier upload, kept under the runs folder) as the upload."""
    resolved = Path(path).resolve()
    names = {value for _, value in shipped}
    if resolved.is_relative_to(ASSETS) and resolved.relative_to(ASSETS).as_posix() in names:
        return resolved.relative_to(ASSETS).as_posix(), None
    return None, str(gallery.file_under(resolved, site.readable))


def _relative(site: Site, run_text: str) -> str:
    """The page shows run directories relative to the runs folder; accept either form."""
    text = (run_text or "").strip()
    if not text:
        raise UserError("no run to resume: Start one, or choose a stopped run in the Gallery")
    path = Path(text)
    if path.is_absolute() and path.resolve().is_relative_to(site.runs.resolve()):
        return path.resolve().relative_to(site.runs.resolve()).as_posix()
    return text


def _follow(site: Site, request: gr.Request, job: painting.Painting):
    """Run `job`, yielding (status, picture, readout, downloads, run directory) as it forms."""
    key = request.session_hash if request is not None else "local"
    with site.lock:
        running = site.paintings.get(key)
        if running is not None and not running.state.done:
            yield (
                "⚠ a picture is already running on this page: Stop it first",
                gr.skip(),
                gr.skip(),
                gr.skip(),
                gr.skip(),
            )
            return
        site.paintings[key] = job.start()
    state = None
    try:
        while state is None or not state.done:
            state = painting.wait_for_change(job, state, POLL_SECONDS)
            if not state.done:
                yield state.text, state.picture, gr.skip(), gr.skip(), gr.skip()
        readout = _readout(state.result.scores) if state.result is not None else []
        shown_dir = ""
        if state.run_dir is not None:
            shown_dir = Path(state.run_dir).resolve().relative_to(site.runs.resolve()).as_posix()
        yield state.text, state.picture, readout, _downloads(state.run_dir), shown_dir
    finally:
        if not job.state.done:  # the page went away mid-run: keep what it made
            job.stop()
        with site.lock:
            if site.paintings.get(key) is job:
                del site.paintings[key]
