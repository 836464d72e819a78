"""Classrooms: teachers, classes and their students (`classes`), shared read-only datasets, assignments scored
on a hidden test set (`assignments`, the scoring helper `score_hidden`), boards, the teacher's view and grades
(`board`)."""

from .assignments import (Assignment, Submission, create_assignment, find_assignment, get_assignment,
                          list_assignments, remove_class, submit, visible_submissions)
from .board import Board, board, grades_csv, teacher_view
from .classes import (ClassError, Classroom, add_students, create_class, find_class, get_class, join, list_classes,
                      read_roster, share_dataset)

__all__ = ["Assignment", "Board", "ClassError", "Classroom", "Submission", "add_students", "board",
           "create_assignment", "create_class", "find_assignment", "find_class", "get_assignment", "get_class",
           "grades_csv", "join", "list_assignments", "list_classes", "read_roster", "remove_class", "share_dataset", "submit",
           "teacher_view", "visible_submissions"]
