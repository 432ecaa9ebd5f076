"""The prompts every notebook uses, chosen in one place from the model it runs on: an offline
model's folder holds world.json (its objects' names and caption phrases, its backgrounds, its
caption template), so its prompts are its world's own words ("a rocket on a pink
background"); real Stable Diffusion (no world.json) gets the slides' prompts, at its own size.

    P = pare.prompts.for_model(pare.default_model());  pipe(P.prompt, width=P.size, height=P.size)
"""

import json
from dataclasses import dataclass
from pathlib import Path

SLIDES = "painting depicting the sea, sunrise, ship, artstation, 4k, concept art"
# First choices, where the world has them: all three offline models draw these cleanly.
LIKED = ("rocket", "pancakes", "evergreen tree", "sheep", "grapes", "cat")


@dataclass
class Prompts:
    prompt: str  # the main prompt, used all the way through
    other: str  # another object in the same setting: blends, similarity, image-to-image
    swap: tuple  # (a word of `prompt`, one to put in its place): a one-word edit
    word: str  # the word of `prompt` naming the object, where its cross-attention should lie
    negative: str  # a negative prompt: the object itself
    grid: list  # four different prompts, for a grid of pictures
    size: int = None  # width and height to draw at; None: the model's own
    world: dict = None  # the model's world.json; None for real Stable Diffusion

    @property
    def long(self):  # longer than CLIP's 77 tokens, its one new idea at the very end, past the cut
        repeats = -(-80 // len(self.prompt.split()))  # 80 words: at least 80 tokens before the new idea
        return ", ".join([self.prompt] * repeats) + ", and " + self.other


def for_model(model):
    """The prompts for `model`, a folder or a Hub repo id (as `pare.default_model()` gives)."""
    if not (path := Path(str(model)) / "world.json").is_file():
        return Prompts(
            SLIDES,
            SLIDES.replace("the sea", "a forest").replace("ship", "deer"),
            ("sunrise", "sunset"),
            "ship",
            "ship",
            [
                SLIDES,
                "a photograph of an astronaut riding a horse",
                "a red fox in the snow, watercolour",
                "a lighthouse on a cliff at night, oil painting",
            ],
        )
    world = json.loads(path.read_text())
    objects, backgrounds, drawn_on = world["objects"], world["backgrounds"], world.get("drawn_on", {})
    # Pink and green: two backgrounds the shipped models follow well; their small text encoder
    # mixes up white with blue and black with yellow (the model card measures each background).
    bg = "pink" if "pink" in backgrounds else backgrounds[-1]
    to = "green" if "green" in backgrounds else next(b for b in backgrounds if b != bg)
    on = lambda name, b: world["with_background"].format(object=objects[name], background=b)  # noqa: E731
    names = sorted(objects, key=lambda n: LIKED.index(n) if n in LIKED else len(LIKED))  # then in the world's order
    main, second = [n for n in names if {bg, to} <= set(drawn_on.get(n, backgrounds))][:2]
    third, fourth = [n for n in names if n not in (main, second)][:2]
    grid = [on(main, bg), objects[second], on(third, drawn_on.get(third, [to])[-1]), objects[fourth]]
    return Prompts(
        on(main, bg), on(second, bg), (bg, to), main.split()[-1], objects[main], grid, world.get("image_size"), world
    )
