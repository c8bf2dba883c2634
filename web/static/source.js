// The document view: bring the highlighted quote to the middle of the screen and focus it.
"use strict";

const highlight = document.getElementById("hl");
if (highlight) {
  highlight.scrollIntoView({ block: "center" });
  highlight.focus({ preventScroll: true });
}
