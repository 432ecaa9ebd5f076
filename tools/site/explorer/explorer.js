// The explorer: EXPLORER (data.js, written by tools/explorer.py) lists the runs; each run has two
// sprites, runs/NAME.jpg (a row per step: x_t, then predicted x0) and runs/NAME.png (a row per step:
// a column per word's cross-attention map). A tile is shown as a div whose background is the sprite,
// moved and blown up by CSS: no canvas, so it works opened from the disk as well as served.
"use strict";
const D = EXPLORER;
const $ = (id) => document.getElementById(id);
const slider = $("step");

function fill(select, values, label) {
  for (const v of values) select.add(new Option(label(v), String(v)));
}

function chosen(side) {
  const prompt = D.prompts[$("prompt-" + side).selectedIndex];
  const seed = Number($("seed-" + side).value), guidance = Number($("guidance-" + side).value);
  return D.runs.find((r) => r.prompt === prompt && r.seed === seed && r.guidance === guidance);
}

// A tile of a sprite: column `col`, row `row`, of `size` px tiles, shown `shown` px wide.
function tile(sheet, col, row, size, cols, rows, shown, caption) {
  const box = document.createElement("div");
  box.className = "tile";
  const picture = document.createElement("div");
  const k = shown / size;
  picture.style.backgroundImage = `url("${sheet}")`;
  picture.style.backgroundSize = `${cols * size * k}px ${rows * size * k}px`;
  picture.style.backgroundPosition = `${-col * shown}px ${-row * shown}px`;
  box.append(picture, caption);
  return box;
}

function show(side) {
  const run = chosen(side), i = Number(slider.value), steps = D.steps;
  const pictures = document.createElement("div");
  pictures.className = "pictures";
  pictures.append(
    tile(run.name + ".jpg", 0, i, D.tile, 2, steps, 256, `x_t (t = ${run.timesteps[i]})`),
    tile(run.name + ".jpg", 1, i, D.tile, 2, steps, 256, "predicted x0"));
  const maps = document.createElement("div");
  maps.className = "maps";
  run.words.forEach((word, w) => maps.append(tile(run.name + ".png", w, i, D.map, run.words.length, steps, 80, word)));
  $("run-" + side).replaceChildren(pictures, maps);
}

// What run B changes of run A, in words.
function differs() {
  const a = chosen("a"), b = chosen("b"), said = [];
  if (a.prompt !== b.prompt) {
    const x = a.prompt.split(" "), y = b.prompt.split(" ");
    const kept = x.filter((w) => y.includes(w));
    said.push(`the prompt: "${x.filter((w) => !kept.includes(w)).join(" ")}" → "${y.filter((w) => !kept.includes(w)).join(" ")}"`);
  }
  if (a.seed !== b.seed) said.push(`the seed: ${a.seed} → ${b.seed}`);
  if (a.guidance !== b.guidance) said.push(`the guidance scale: ${a.guidance} → ${b.guidance}`);
  $("differs").textContent = said.length ? "differs from A in " + said.join("; ") : "is run A";
}

function update() {
  const run = chosen("a"), i = Number(slider.value);
  $("step-label").textContent = `step ${i + 1} of ${D.steps}, t = ${run.timesteps[i]}`;
  show("a");
  show("b");
  differs();
}

$("model").textContent = `the model ${D.model} (${D.runs.length} runs: ${D.prompts.length} prompts, seeds ${D.seeds.join(", ")}, guidance ${D.guidance.join(", ")}; ${D.steps} steps each)`;
for (const side of ["a", "b"]) {
  fill($("prompt-" + side), D.prompts, (p) => p);
  fill($("seed-" + side), D.seeds, (s) => s);
  fill($("guidance-" + side), D.guidance, (g) => g);
  for (const what of ["prompt", "seed", "guidance"]) $(what + "-" + side).addEventListener("change", update);
}
// Start with B = A but for one word, at the largest guidance, on the last step.
$("prompt-b").selectedIndex = 1;
$("guidance-a").selectedIndex = $("guidance-b").selectedIndex = D.guidance.length - 1;
slider.max = D.steps - 1;
slider.value = D.steps - 1;
slider.addEventListener("input", update);

let timer = null;
$("play").addEventListener("click", () => {
  if (timer) { clearInterval(timer); timer = null; $("play").textContent = "play"; return; }
  $("play").textContent = "pause";
  timer = setInterval(() => { slider.value = (Number(slider.value) + 1) % D.steps; update(); }, 250);
});
update();
