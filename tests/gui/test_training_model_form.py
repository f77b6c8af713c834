"""The training form's "Model" and "Training size" (issue 18): chosen, checked in the form's
own words, handed to the run."""

from __future__ import annotations

from .test_training_accuracy_window import open_project, real_service


def test_model_is_a_choice_and_training_size_is_checked_in_its_own_words(qtbot, make_session, project_path):
    session = open_project(qtbot, make_session, project_path, real_service)
    panel = session.window.training
    model, size = panel.fields["model"][1], panel.fields["training_size"][1]
    assert model.text() == "auto" and [model.itemText(i) for i in range(model.count())] == [
        "auto",
        "mlp",
        "conv",
    ]
    assert size.text() == "32"
    model.setCurrentText("conv")
    size.setText("4")
    error = panel.fields["training_size"][2]
    assert error.isVisible() and "Training size must be 0 or at least 8 pixels" in error.text()
    assert not panel.start_button.isEnabled()
    size.setText("24")
    values, problems = panel.config()
    assert not problems and values["model"] == "conv" and values["training_size"] == 24
    assert panel.start_button.isEnabled()
