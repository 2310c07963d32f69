// Counts the boxes ticked in a form and says so in the element marked data-selected-count (the
// name of the boxes); data-template holds the words, with {n} for the number. Without
// JavaScript the count stays hidden and the form works the same.
(function () {
  document.querySelectorAll("[data-selected-count]").forEach(function (output) {
    var form = output.closest("form");
    var selector = 'input[type="checkbox"][name="' + output.dataset.selectedCount + '"]';
    function update() {
      output.textContent = output.dataset.template.replace("{n}", form.querySelectorAll(selector + ":checked").length);
    }
    form.addEventListener("change", update);
    output.hidden = false;
    update();
  });
})();
