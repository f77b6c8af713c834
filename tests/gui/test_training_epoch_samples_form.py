"""The training form's "Samples per epoch" (issue 18): typed, checked, handed to the run."""

from __future__ import annotations

from .test_training_accuracy_window import open_project, real_service


def test_samples_per_epoch_is_a_field_checked_in_its_own_words(qtbot, make_session, project_path):
    session = open_project(qtbot, make_session, project_path, real_service)
    panel = session.window.training
    form = panel.settings_form.form
    labels = {
        form.labelForField(form.itemAt(row, form.ItemRole.FieldRole).layout()).text()
        for row in range(form.rowCount())
    }
    assert "Samples per epoch" in labels
    field, error = panel.fields["epoch_samples"][1], panel.fields["epoch_samples"][2]
    assert field.text() == "0"  # every sample, as before the setting existed
    field.setText("-3")
    assert error.isVisible() and not panel.start_button.isEnabled()
    field.setText("5000")
    values, problems = panel.config()
    assert not problems and values["epoch_samples"] == 5000
    assert panel.start_button.isEnabled()
