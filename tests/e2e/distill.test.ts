// Distillation in the tab, headless Chromium on SwiftShader: pick the shipped Fashion-MNIST teacher
// (its model and data come with it), press the distillation preset and train a few steps; the
// teacher-vs-student panel draws the teacher's Euler-N grids and the student's NFE 1 / 2 grids, its
// quality-vs-NFE plot gets the teacher's and the student's points, and the FD-over-steps plot gets
// a point. A checkpoint that is not a teacher, uploaded as one, is refused by name. Screenshots in
// test-results/ (the panel's also as docs/img/distill-panel.png for the README, with FACM_UPDATE_DOCS=1).

import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { chromiumMissing, playgroundSuite, stepOf } from '../../scripts/e2e-helpers';

const SHOTS = 'test-results';
const skip = chromiumMissing();
// Quality every 4 steps on 32 images, so the plots get points within a few steps on SwiftShader.
const VIEW = '?qualityEvery=4&qualitySamples=32&sampleEvery=2&euler=4&autosaveEvery=0';

describe('distillation from the shipped teacher (headless chromium)', { skip, timeout: 600_000 }, () => {
  const { open, until } = playgroundSuite({ before, after }, SHOTS, 'distill');

  test('the shipped teacher, the distillation preset: the teacher-vs-student panel and the FD plot draw', async () => {
    const { page, errors } = await open(VIEW);
    // The teacher picker: a shipped teacher brings its model and data set.
    await page.getByTestId('cfg-teacher').selectOption('fashion16-fm');
    assert.equal(await page.getByTestId('cfg-preset').inputValue(), 'mnist-16');
    assert.equal(await page.getByTestId('cfg-dataset').inputValue(), 'fashion16');
    assert.match((await page.getByTestId('teacher-info').textContent()) ?? '', /shipped with the app/);
    assert.match(page.url(), /teacher=fashion16-fm/);
    // A file that is not a teacher, uploaded as one: refused by name, the run keeps the shipped teacher.
    await page.getByTestId('teacher-upload').setInputFiles({ name: 'notes.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('not a checkpoint') });
    await until('the refusal', async () => /notes\.safetensors: .*Choose an FM teacher/.test((await page.getByTestId('messages').textContent()) ?? ''), 10_000, page);
    assert.equal(await page.getByTestId('cfg-teacher').inputValue(), 'fashion16-fm');

    await page.getByTestId('ablation-distil-fashion16').click();
    assert.match(page.url(), /ablation=distil-fashion16/);
    const panel = page.getByTestId('teacher-panel');
    await until("the teacher's Euler-50 grid", async () => await page.getByTestId('teacher-grid-50').isVisible(), 240_000, page);
    await until("the student's grids", async () => (await page.getByTestId('student-grid-1').isVisible()) && (await page.getByTestId('student-grid-2').isVisible()), 120_000, page);
    const points = async (id: string) => Number((await page.getByTestId(id).getAttribute('data-points')) ?? 0);
    await until('the FD-over-steps plot to get a point', async () => (await points('fd-plot')) >= 1, 300_000, page);
    // Every teacher point (6) and the student's two.
    await until('the quality-vs-NFE plot to get the teacher line and the student points', async () => (await points('nfe-plot')) >= 8, 300_000, page);
    assert.match((await page.getByTestId('teacher-worth').textContent()) ?? '', /one student step is worth/);
    assert.ok((await stepOf(page)) >= 4);
    await page.getByTestId('btn-pause').click();
    await page.waitForTimeout(1200); // the plots redraw at most every 400 ms
    await panel.screenshot({ path: `${SHOTS}/distill-panel.png` });
    await page.getByTestId('quality-panel').screenshot({ path: `${SHOTS}/distill-fd-plot.png` });
    await page.screenshot({ path: `${SHOTS}/distill-page.png`, fullPage: true });
    // The README's picture, only when asked (a plain test run leaves tracked files alone).
    if (process.env.FACM_UPDATE_DOCS) copyFileSync(`${SHOTS}/distill-panel.png`, 'docs/img/distill-panel.png');
    assert.deepEqual(errors, []);
  });
});
