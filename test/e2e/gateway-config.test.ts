// Configuration over the air behind a gateway: the gateway passes the cloud's config hint and the signed document
// through unchanged, the sim device behind it verifies and tries the document as it would from the cloud, and its
// outcome reaches the cloud through the gateway's report queue. A document the gateway alters is refused by the
// device (the gateway holds no config key), and the refusal reaches the cloud too.
import test from "ava";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { builds, is, world } from "./lib.js";
import { gatewayHeaders, until } from "./gateway-lib.js";
import { HostileServer } from "./hostile.js";
import { GatewaySite } from "../../tools/demo/gateway-site.js";
import { makeDeviceCertificate } from "../../tools/server/certificates.js";

test.serial("a config document reaches a sim device through a gateway, is tried and kept; one the gateway alters is refused", async (t) => {
	t.timeout(180_000);
	const w = await world();
	const site = await GatewaySite.make(w, "gw-config");
	const gateway = await site.start();
	// a proxy with the gateway's own certificate, passing everything on, that alters config documents once told to
	const proxy = new HostileServer({ upstream: site.url, ca: site.localCa, cert: readFileSync(join(site.dir, "local/server.pem")), key: readFileSync(join(site.dir, "local/server.key")),
		identity: (id) => makeDeviceCertificate({ caCert: w.deviceCa.cert, caKey: w.deviceCa.key, deviceId: id }) });
	let alter = false;
	proxy.behaviour = async (exchange, server) => {
		const answer = await server.upstream(exchange, gatewayHeaders(exchange));
		if (alter && answer.status === 200 && exchange.path.endsWith("/config")) {
			answer.body = Buffer.from(answer.body);
			answer.body[answer.body.length - 80]! ^= 0x04;
		}
		await server.answer(exchange, answer);
	};
	await proxy.listen();
	const name = "sim-cfg-gw";
	const board = w.boot(w.device(name, builds(w).v1, { server: proxy.url, ca: site.localCa }));
	try {
		await site.register([name]);
		await board.waitFor(is("none", { why: "no-release" }), 60_000, "a first check through the gateway");
		// the settings keep the device behind the gateway: its server and CA are the gateway's
		await w.pushConfig(w.signConfig({ devices: [name], sequence: 1, settings: w.settings(name, { server: proxy.url, ca: site.localCa, pollSeconds: 2 }) }));
		await board.waitFor((e) => e.type === "config-valid" && e.sequence === 1, 60_000, "the document kept after its trial");
		await until("config-valid at the cloud", 30_000, async () => (await w.store.configHistory(name)).some((e) => e.state === "config-valid" && e.target === 1) || undefined);
		t.like(await w.store.deviceConfig(name), { sequence: 1, source: "working" });

		alter = true;
		await w.pushConfig(w.signConfig({ devices: [name], sequence: 2, settings: w.settings(name, { server: proxy.url, ca: site.localCa, pollSeconds: 3 }) }));
		await board.waitFor((e) => e.type === "config-reject" && e.sequence === 2, 60_000, "the altered document refused");
		await until("the refusal at the cloud", 30_000, async () => (await w.store.configHistory(name)).find((e) => e.state === "config-rejected" && e.target === 2) ?? undefined);
		t.is((await w.store.configHistory(name)).find((e) => e.state === "config-rejected")!.error, "bad-signature");
		t.false(board.events.some((e) => e.type === "config-activate" && e.sequence === 2), "the altered document was written");
	} finally {
		await board.stop();
		await proxy.close();
		await gateway.close();
		await w.stop();
	}
});
