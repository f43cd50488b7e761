"""Preprocessing for the two rating stages of the paper (section 3).

analysis  face analysis of stored images -> FaceAnalysis rows + Image.metadata
          (face, yaw, frontal, gender) that sampling rules filter and balance on
masking   the aligned, landmark-hull-masked 128x128 face -> Image.display_file
svm       stage I: SVM versions trained on a study's labels; scores -> metadata svm_class
stage2    stage II: the funnel from sources to a balanced, masked draft study
tasks     the job kinds (their work; ratings_site.jobs.runner runs them)
"""
