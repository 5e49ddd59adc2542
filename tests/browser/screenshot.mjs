// `make screenshot`: regenerates docs/dashboard.png (the overview) and docs/dashboard-topic.png
// (a topic's page) from a running delayq with sample tasks.
//   node screenshot.mjs path/to/delayq path/to/dashboard.png [path/to/dashboard-topic.png]
import { client, launchBrowser, makeDead, seedTasks, startServer } from './harness.mjs';

const [binary, output, topicOutput] = process.argv.slice(2);
if (!binary || !output) {
  console.error('usage: node screenshot.mjs path/to/delayq out.png [topic-out.png]');
  process.exit(2);
}
const server = await startServer(binary);
let browser;
try {
  const call = client(server.url);
  await seedTasks(call);
  // Reminders spread over the next hour and days, so that the horizon has bars to draw.
  const now = Date.now();
  const reminders = [];
  for (let i = 0; i < 240; i++) {
    const minutes = i < 180 ? (i * 7) % 60 + (i % 5) : 60 + i * 13;
    reminders.push({ payload: { remind: i }, at_ms: now + minutes * 60000 + 30000 });
  }
  await call('POST', '/v1/topics/reminders/tasks:batch', { tasks: reminders });
  await makeDead(call, 'reminders', 3);
  // Some seconds of adds and consumption (a tenth of the first attempts nacked, then acked),
  // so that the lateness and rate charts have lines to draw.
  const start = Date.now();
  let n = 0;
  while (Date.now() < start + 15000) {
    const second = Math.floor((Date.now() - start) / 1000);
    const burst = 2 + ((second * 7) % 5);
    const tasks = Array.from({ length: burst }, () =>
      ({ payload: { n: n++ }, delay_ms: 200 + (n % 5) * 150 }));
    await call('POST', '/v1/topics/notifications/tasks:batch', { tasks });
    const got = await call('POST', '/v1/topics/notifications/pull', { max: 50, wait_ms: 250 });
    for (const task of got.tasks) {
      const verb = task.attempt === 1 && task.id.endsWith('7') ? 'nack' : 'ack';
      await call('POST', `/v1/tasks/${task.id}/${verb}`, { lease: task.lease });
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  browser = await launchBrowser();
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  await page.goto(server.url + '/');
  await page.locator('#dead tbody tr').first().waitFor({ timeout: 10000 });
  await page.waitForFunction(() =>
    /deliveries/.test(document.getElementById('lateness-summary').textContent));
  await page.waitForFunction(() =>
    /added/.test(document.getElementById('rates-summary').textContent));
  await page.fill('#lookup-id', (await call('GET', '/v1/topics/payments/dead')).tasks[0].id);
  await page.click('#lookup-form button[type=submit]');
  await page.waitForFunction(() => document.getElementById('lookup-result').textContent
    .includes('"topic"'));
  await page.screenshot({ path: output, fullPage: true });
  console.log(`wrote ${output}`);
  if (topicOutput) {
    await page.goto(server.url + '/#/topics/reminders');
    await page.locator('#topic-dead tbody tr').first().waitFor({ timeout: 10000 });
    await page.waitForFunction(() =>
      document.getElementById('topic-horizon-summary').textContent !== '');
    await page.waitForFunction(() => document.querySelector('#scheduled tbody tr') !== null ||
      !document.getElementById('scheduled-missing').hidden);
    await page.screenshot({ path: topicOutput, fullPage: true });
    console.log(`wrote ${topicOutput}`);
  }
} finally {
  if (browser) await browser.close();
  await server.stop();
}
