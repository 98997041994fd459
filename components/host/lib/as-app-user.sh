# shellcheck shell=bash
# Root reads and makes what lives where the app user writes only as that user, so a link
# the app user plants there never makes root show or touch a file of its choosing. Needs
# APP_USER.
as_app_user() {
  (cd / && sudo -n -u "$APP_USER" -- "$@")
}
