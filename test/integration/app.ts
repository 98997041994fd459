// The test app for release deploys: a Django project made locally by django-admin (Debian's
// python3-django), with one view that answers with its version and the worker's PID, and ways
// to break it (an import error in settings, or a view that raises: a 500).
import { spawnSync } from "node:child_process";
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A Django project made by django-admin, with a view that tells its version and PID. */
export function makeApp(): {
  dir: string;
  setVersion(v: string): void;
  breakImport(): void;
  break500(): void;
} {
  const dir = mkdtempSync(join(tmpdir(), "app-"));
  const r = spawnSync("django-admin", ["startproject", "mysite", dir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`django-admin startproject failed: ${r.stderr}`);
  appendFileSync(join(dir, "mysite/settings.py"), '\nALLOWED_HOSTS = ["*"]\n');
  const settings = readFileSync(join(dir, "mysite/settings.py"), "utf8");
  const views = (body: string) =>
    writeFileSync(
      join(dir, "mysite/views.py"),
      `import os\nfrom django.http import HttpResponse\n\n\ndef whoami(request):\n${body}\n`,
    );
  writeFileSync(
    join(dir, "mysite/urls.py"),
    'from django.urls import path\nfrom . import views\n\nurlpatterns = [path("", views.whoami)]\n',
  );
  return {
    dir,
    setVersion(v) {
      writeFileSync(join(dir, "mysite/settings.py"), settings);
      views(`    return HttpResponse("pid=%d version=${v}" % os.getpid())`);
    },
    breakImport() {
      // Settings are imported with the WSGI module, so the pre-flight import sees this.
      writeFileSync(join(dir, "mysite/settings.py"), `${settings}\nimport no_such_module_here\n`);
    },
    break500() {
      views('    raise RuntimeError("this release is broken")');
    },
  };
}
