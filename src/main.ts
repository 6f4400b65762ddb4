// The example firmware: boot (and, for a new image or a new config, its supervised trial), then normal work, then
// updates. Its version and its deliberate faults come from the build (mc/config), so one source makes v1, v2 and a
// bad v3. Its config comes from the device config's copies (modules/fota/config-store.ts): the newest intact one.
import config from "mc/config";
import { configFlash } from "devconfig";
import { FotaClient } from "fota/client";
import { loadConfig } from "fota/config-store";
import { Records } from "fota/records";
import SHA256 from "crypto/sha256";
import { PreferenceStore } from "fota-moddable/store";
import { kind, targetPorts } from "fota-target";
import { appChecks } from "./checks.js";
import { startWork } from "./work.js";

const version: string = config.version ?? "0.0.0";
const sha256 = (data: Uint8Array) => new Uint8Array(SHA256.hash(data));
const loaded = loadConfig(configFlash, new Records(new PreferenceStore()), sha256);
if (!loaded)
	throw new Error("no device config: provision one first (xs-fota provision)");
const device = loaded.config;
const client = new FotaClient({
	config: device,
	loaded,
	sha256,
	ports: { ...targetPorts(device), configFlash },
	firmware: { version, kind },
	selfTest: appChecks(config.fault, device.app),
});

trace(`xs-fota example firmware ${version} on ${device.deviceId} (config ${loaded.sequence}, ${loaded.source}${loaded.trial ? ", on trial" : ""})\n`);
const boot = await client.boot();
trace(`boot: ${JSON.stringify(boot)}\n`);
startWork(client);
client.start();
