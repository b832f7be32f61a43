// The share block's copy button: shown only when scripts run; the address stays selectable text.
"use strict";
for (const button of document.querySelectorAll("button[data-copy]")) {
  button.hidden = false;
  button.addEventListener("click", async () => {
    const text = button.dataset.copy;
    let ok = false;
    try {
      await navigator.clipboard.writeText(text);
      ok = true;
    } catch (e) {
      // Older browsers, or a page opened from disk: select the address and use execCommand.
      const code = document.getElementById("share-address");
      const range = document.createRange();
      range.selectNodeContents(code);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      ok = document.execCommand && document.execCommand("copy");
    }
    button.textContent = ok ? "已复制" : "请长按上面的链接复制";
  });
}
