// The test app for release deploys: a Django project made locally by django-admin (Debian's
// python3-django), with one view that answers with its version and the worker's PID, and ways
// to break it (an import error in settings, or a view that raises: a 500).
import { spawnSync } from "node:child_process";
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const NOTE_MIGRATION = `from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Note",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
                ("text", models.CharField(max_length=100)),
            ],
        ),
    ]
`;

const BROKEN_MIGRATION = `from django.db import migrations


def fail(apps, schema_editor):
    raise RuntimeError("this migration is broken")


class Migration(migrations.Migration):
    dependencies = [("notes", "0001_initial")]
    operations = [migrations.RunPython(fail)]
`;

/** A Django project made by django-admin, with a view that tells its version and PID. */
export function makeApp(): {
  dir: string;
  setVersion(v: string): void;
  breakImport(): void;
  break500(): void;
  breakMigration(): void;
  fixMigration(): void;
} {
  const dir = mkdtempSync(join(tmpdir(), "app-"));
  const r = spawnSync("django-admin", ["startproject", "mysite", dir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`django-admin startproject failed: ${r.stderr}`);
  // What a deployed Django app's settings read from the environment: the database (outside the
  // release, which only root can write) and STATIC_ROOT (the service sets it from staticRoot).
  appendFileSync(
    join(dir, "mysite/settings.py"),
    [
      "",
      'ALLOWED_HOSTS = ["*"]',
      "import os",
      'DATABASES["default"]["NAME"] = os.environ.get("APP_DB", "/var/lib/mysite/db.sqlite3")',
      'STATIC_ROOT = os.environ.get("STATIC_ROOT")',
      'INSTALLED_APPS += ["notes"]',
      "",
    ].join("\n"),
  );
  // An app with a model, its migration and a static file: what migrate and collectstatic act on.
  mkdirSync(join(dir, "notes/migrations"), { recursive: true });
  mkdirSync(join(dir, "notes/static/notes"), { recursive: true });
  writeFileSync(join(dir, "notes/__init__.py"), "");
  writeFileSync(join(dir, "notes/migrations/__init__.py"), "");
  writeFileSync(
    join(dir, "notes/models.py"),
    "from django.db import models\n\n\nclass Note(models.Model):\n    text = models.CharField(max_length=100)\n",
  );
  writeFileSync(join(dir, "notes/migrations/0001_initial.py"), NOTE_MIGRATION);
  writeFileSync(join(dir, "notes/static/notes/site.css"), "body { color: #123456; }\n");
  const settings = readFileSync(join(dir, "mysite/settings.py"), "utf8");
  const views = (body: string) =>
    writeFileSync(
      join(dir, "mysite/views.py"),
      `import os\nfrom django.http import HttpResponse\n\n\ndef whoami(request):\n${body}\n\n\n` +
        "def notes(request):\n    from notes.models import Note\n\n" +
        '    return HttpResponse("notes=%d" % Note.objects.count())\n\n\n' +
        // What the app sees behind a proxy: the scheme (https, from X-Forwarded-Proto through
        // Gunicorn's forwarded_allow_ips), the client's Host, and X-Forwarded-For.
        "def proxy(request):\n" +
        '    return HttpResponse("%s %s %s" % (request.scheme, request.get_host(), request.META.get("HTTP_X_FORWARDED_FOR")))\n' +
        // The URL Django builds for itself: under SCRIPT_NAME when the app is under a path.
        "\n\ndef url(request):\n    return HttpResponse(request.build_absolute_uri())\n",
    );
  writeFileSync(
    join(dir, "mysite/urls.py"),
    'from django.urls import path\nfrom . import views\n\nurlpatterns = [path("", views.whoami), path("notes", views.notes), path("proxy", views.proxy), path("url", views.url)]\n',
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
    breakMigration() {
      // A second migration that fails halfway: the up must fail before the release serves.
      writeFileSync(join(dir, "notes/migrations/0002_broken.py"), BROKEN_MIGRATION);
    },
    fixMigration() {
      rmSync(join(dir, "notes/migrations/0002_broken.py"));
    },
  };
}
